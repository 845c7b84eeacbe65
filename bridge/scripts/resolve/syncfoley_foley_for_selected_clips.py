"""syncfoley: Foley for selected clips (DaVinci Resolve, Workspace > Scripts > Edit).

The same as "Foley for timeline", for the events inside the timeline's In/Out range.
It runs the script beside it, so install both (``syncfoley install-scripts resolve``).
"""

import os
import runpy

_here = os.path.dirname(os.path.abspath(globals().get("__file__", "") or "."))
# Resolve hands menu scripts its objects as globals; pass them on.
_given = {k: globals().get(k) for k in ("resolve", "app", "bmd", "fusion", "fu") if globals().get(k) is not None}
_main = runpy.run_path(os.path.join(_here, "syncfoley_foley_for_timeline.py"), init_globals=_given,
                       run_name="syncfoley_resolve")
_main["main"](mode="selected")
