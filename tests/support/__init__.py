"""What the tests share: the in-process app (inproc), a real server in a subprocess (server),
the backing services (services), loopback origins for image_url (origin), photos (images) and
the assertions on answers (checks). Test modules import from here, never from each other."""
