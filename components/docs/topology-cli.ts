/**
 * `npm run readme:topology`: redraw docs/topology-prod.svg, the picture the
 * README shows. A test fails while it differs from what the renderer draws.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { readStackFile } from "../config/file";
import { loadStack } from "../config/load";
import { renderTopologySvg } from "../render/topology";
import { DOCS_PROJECT, ROOT } from "./site";

renderTopologySvg(loadStack("prod", readStackFile(ROOT, "prod")).lab).then((svg) => {
  writeFileSync(join(DOCS_PROJECT, "topology-prod.svg"), svg);
  process.stdout.write("docs/topology-prod.svg redrawn\n");
});
