/**
 * `npm run icons:licenses`: rewrites assets/icons/LICENSES.md from the catalog
 * and the installed icon sets. test/portal/render.test.ts fails while the
 * committed file differs, so a new icon or an upgraded set cannot skip it.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { LICENSES_FILE } from "../render/icons";
import { ASSETS_DIR, renderLicenses } from "../render/portal";

if (require.main === module) {
  const path = join(ASSETS_DIR, "icons", LICENSES_FILE);
  writeFileSync(path, renderLicenses());
  process.stdout.write(`wrote ${path}\n`);
}
