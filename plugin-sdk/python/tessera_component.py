"""The module componentize-py builds a plugin from: the plugin's own Guest (from its module
`app`) and the kit's Mappings and Checks, which serve what the plugin declared with
Plugin.mapping and Plugin.check (none unless it declared some). The build names this module; a
plugin never writes it."""

import app as _app
import tessera as _tessera

Guest = _app.Guest
# A plugin may implement the interfaces itself; the kit's serve its declarations otherwise.
Mappings = getattr(_app, "Mappings", _tessera.Mappings)
Checks = getattr(_app, "Checks", _tessera.Checks)
