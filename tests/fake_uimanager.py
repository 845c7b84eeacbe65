"""A stand-in for Fusion's UIManager and ``bmd.UIDispatcher``, as Resolve's scripts see them.

What it models (the UIManager documentation in Resolve's Developer folder and the
scripts that use it):
- ``ui.VGroup([...])`` / ``ui.VGroup({props}, [...])``, ``ui.Label({...})``,
  ``ui.Slider``, ``ui.Button``, ``ui.HGap(size, weight)``; ``win.GetItems()`` maps IDs
  to elements whose properties (Text, Value, Enabled) are read and set as attributes.
- ``disp.AddWindow(props, child)``; ``win.On.<ID>.Clicked``, ``win.On[<ID>].Close``.
- ``ui.Timer({"ID", "Interval", "SingleShot"})`` with ``Start``/``Stop``; its Timeout
  is delivered while ``disp.RunLoop()`` runs, under one of the two names published
  scripts use, as the Resolve version does: ``disp.On.Timeout`` (``timer_route=
  "dispatcher"``) or ``win.On.<timer ID>.Timeout`` (``"window"``). A handler under the
  other name is never called.
- ``RunLoop`` processes events until ``ExitLoop``; nothing runs outside it. A loop
  with no window shown and no timer running could never end: that fails the test.
- Closing a window with its close box hides it after its Close handler runs.

The user is a function called once per pass of the loop, ``user(window)``; it can
``window.click(ID)`` or ``window.close()``. Property changes are kept in ``history``.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Optional


class Handlers:
    """``On``: handlers by element ID, reached as attributes or by index."""

    def __init__(self) -> None:
        object.__setattr__(self, "_by_id", {})

    def __getattr__(self, name: str) -> Any:
        return self[name]

    def __getitem__(self, name: str) -> Any:
        return self._by_id.setdefault(name, _Events())

    def __setattr__(self, name: str, value: Any) -> None:  # disp.On.Timeout = fn
        self._by_id[name] = value


class _Events:
    def __init__(self) -> None:
        self.handlers: dict[str, Callable[[dict], Any]] = {}

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "handlers":
            object.__setattr__(self, name, value)
        else:
            self.handlers[name] = value

    def __getattr__(self, name: str) -> Any:
        return self.handlers.get(name)


class Element:
    def __init__(self, kind: str, props: dict[str, Any], children: list["Element"], history: list) -> None:
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "props", dict(props))
        object.__setattr__(self, "children", children)
        object.__setattr__(self, "history", history)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.props[name]
        except KeyError:
            raise AttributeError(f"{self.kind} has no property {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        self.props[name] = value
        self.history.append((self.props.get("ID"), name, value))

    def walk(self) -> list["Element"]:
        out = [self]
        for c in self.children:
            out += c.walk()
        return out


class Timer:
    def __init__(self, props: dict[str, Any], ui: "UIManager") -> None:
        self.ID = props.get("ID", "")
        self.Interval = int(props.get("Interval", 0))
        self.SingleShot = bool(props.get("SingleShot", False))
        self.active = False
        self.due = 0.0
        ui.timers.append(self)

    def Start(self) -> None:
        self.active = True
        self.due = time.monotonic() + self.Interval / 1000.0

    def Stop(self) -> None:
        self.active = False


class UIManager:
    def __init__(self) -> None:
        self.history: list = []
        self.timers: list[Timer] = []

    def _element(self, kind: str, a: Any = None, b: Any = None) -> Element:
        props, children = (a, b) if isinstance(a, dict) else ({}, a)
        if isinstance(children, Element):
            children = [children]
        return Element(kind, props or {}, list(children or []), self.history)

    def VGroup(self, a: Any = None, b: Any = None) -> Element:
        return self._element("VGroup", a, b)

    def HGroup(self, a: Any = None, b: Any = None) -> Element:
        return self._element("HGroup", a, b)

    def Label(self, props: dict) -> Element:
        return self._element("Label", props)

    def Slider(self, props: dict) -> Element:
        return self._element("Slider", props)

    def Button(self, props: dict) -> Element:
        return self._element("Button", props)

    def HGap(self, size: int = 0, weight: float = 1.0) -> Element:
        return self._element("HGap", {"Size": size, "Weight": weight})

    def Timer(self, props: dict) -> Timer:
        return Timer(props, self)


class Window:
    def __init__(self, props: dict[str, Any], root: Element) -> None:
        self.props = props
        self.root = root
        self.On = Handlers()
        self.shown = False
        self.shows = 0

    def GetItems(self) -> dict[str, Element]:
        return {e.props["ID"]: e for e in self.root.walk() if "ID" in e.props}

    def Show(self) -> None:
        self.shown, self.shows = True, self.shows + 1

    def Hide(self) -> None:
        self.shown = False

    # The user's side.
    def text(self, element_id: str) -> str:
        return str(self.GetItems()[element_id].props.get("Text", ""))

    def click(self, element_id: str) -> None:
        if self.GetItems()[element_id].props.get("Enabled", True) is False:
            return  # a disabled button does nothing
        handler = self.On[element_id].Clicked
        if handler is not None:
            handler({"who": element_id, "what": "Clicked"})

    def close(self) -> None:
        handler = self.On[self.props["ID"]].Close
        if handler is not None:
            handler({"who": self.props["ID"], "what": "Close"})
        self.shown = False


class Dispatcher:
    def __init__(self, ui: UIManager, user: Optional[Callable[[Window], None]] = None,
                 limit_s: float = 120.0, timer_route: str = "dispatcher") -> None:
        self.ui = ui
        self.timer_route = timer_route
        self.user = user
        self.limit_s = limit_s
        self.On = Handlers()
        self.windows: list[Window] = []
        self.loops = 0
        self._exit: Optional[int] = None

    def AddWindow(self, props: dict[str, Any], child: Any) -> Window:
        root = child if isinstance(child, Element) else self.ui.VGroup(list(child))
        w = Window(dict(props), root)
        self.windows.append(w)
        return w

    def ExitLoop(self, code: int = 0) -> None:
        self._exit = code

    def RunLoop(self) -> int:
        self.loops += 1
        self._exit = None
        end = time.monotonic() + self.limit_s
        while self._exit is None:
            if time.monotonic() > end:
                raise AssertionError(f"RunLoop still running after {self.limit_s} s")
            if not any(t.active for t in self.ui.timers) and not any(w.shown for w in self.windows):
                raise AssertionError("RunLoop with no window shown and no timer: nothing can ever end it")
            time.sleep(0.01)
            now = time.monotonic()
            for t in self.ui.timers:
                if t.active and now >= t.due:
                    t.active = not t.SingleShot
                    t.due = now + t.Interval / 1000.0
                    handler = self._timeout_handler(t)
                    if handler is not None:
                        handler({"who": t.ID, "what": "Timeout"})
                if self._exit is not None:
                    break
            if self._exit is None and self.user is not None and self.windows and self.windows[-1].shown:
                self.user(self.windows[-1])
        return self._exit


    def _timeout_handler(self, t: Timer) -> Any:
        if self.timer_route == "dispatcher":
            return self.On._by_id.get("Timeout")
        for w in self.windows:
            events = w.On._by_id.get(t.ID)
            if isinstance(events, _Events) and events.handlers.get("Timeout") is not None:
                return events.handlers["Timeout"]
        return None


class Bmd:
    """The ``bmd`` global: only what the scripts use."""

    def __init__(self, user: Optional[Callable[[Window], None]] = None, timer_route: str = "dispatcher") -> None:
        self.user = user
        self.timer_route = timer_route
        self.dispatchers: list[Dispatcher] = []

    def UIDispatcher(self, ui: UIManager) -> Dispatcher:
        d = Dispatcher(ui, self.user, timer_route=self.timer_route)
        self.dispatchers.append(d)
        return d


class Fusion:
    def __init__(self) -> None:
        self.UIManager = UIManager()
