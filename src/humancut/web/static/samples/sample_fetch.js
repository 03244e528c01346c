// Remove the background behind the people in a photo, with fetch().
//
// In a browser page (same origin as the server, or the server behind your own proxy):
//   const url = await removeBackground("", apiKey, fileFromAnInput, "mask");
// With Node.js 18 or later:
//   HUMANCUT_URL=http://localhost:8000 HUMANCUT_KEY=hc_... IMAGE=photo.jpg node sample_fetch.js
// Optional: RETURN_FORM (empty = transparent cut-out, mask, whiteBK or crop) and OUTPUT (a
// file to save the PNG to). Prints the result URL (valid for 24 hours).

async function removeBackground(baseUrl, apiKey, image, returnForm = "", fileName = "photo") {
  const body = new FormData();
  body.append("image", image, image.name || fileName);
  if (returnForm) body.append("return_form", returnForm);
  const response = await fetch(
    `${baseUrl.replace(/\/$/, "")}/api/cutout/portrait/portrait-background-removal`,
    { method: "POST", headers: { "ailabapi-api-key": apiKey }, body },
  );
  const answer = await response.json();
  if (!response.ok || answer.error_code !== 0) {
    const detail = answer.error_detail || {};
    throw new Error(`${detail.code || answer.error_code_str} (HTTP ${response.status}): ` +
      `${detail.message || answer.error_msg}`);
  }
  return answer.data.image_url;
}

if (typeof module !== "undefined" && typeof require !== "undefined" && require.main === module) {
  const fs = require("node:fs");
  const path = require("node:path");
  const { HUMANCUT_URL = "http://localhost:8000", HUMANCUT_KEY, IMAGE, RETURN_FORM = "",
    OUTPUT } = process.env;
  const image = new Blob([fs.readFileSync(IMAGE)]);
  removeBackground(HUMANCUT_URL, HUMANCUT_KEY, image, RETURN_FORM, path.basename(IMAGE))
    .then(async (url) => {
      console.log(url);
      if (OUTPUT) {
        const png = await fetch(url);
        if (!png.ok) throw new Error(`HTTP ${png.status} for ${url}`);
        fs.writeFileSync(OUTPUT, Buffer.from(await png.arrayBuffer()));
      }
    })
    .catch((error) => {
      console.error(`failed: ${error.message}`);
      process.exit(1);
    });
}
