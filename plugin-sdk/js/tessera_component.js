// The module `componentize-js` builds a plugin from: the plugin's own exports (`guest`, from
// `plugin.js`) and the kit's `mappings` and `checks`, which serve what the plugin declared in
// `plugin({ mappings, checks })` (none unless it declared some). The build copies this file
// beside the plugin; a plugin never writes it.
export * from "./plugin.js";
export { mappings, checks } from "./tessera.js";
