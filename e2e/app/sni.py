#!/usr/bin/env python3
"""The tray side of the app test, over D-Bus (dbus-next).

`watch OUT`: a minimal org.kde.StatusNotifierWatcher on the session bus. libayatana-appindicator
exports its icon and menu only when a watcher is present; every registered item is appended to
OUT as a JSON line {"sender", "path"}.

Alongside, a fake org.freedesktop.Notifications server appends every notification to
OUT.notifications as a JSON line {"summary", "body"}.

`layout ITEMS`: prints the tray menu of the last registered item as JSON (com.canonical.dbusmenu
GetLayout): [{"id", "label", "enabled", "toggle"}], plus the item's properties.

`click ITEMS LABEL`: sends a "clicked" event to the menu entry whose label starts with LABEL.
"""

import asyncio
import json
import sys
import time

from dbus_next import BusType, Message, MessageType, PropertyAccess, Variant
from dbus_next.aio import MessageBus
from dbus_next.service import ServiceInterface, dbus_property, method, signal

WATCHER = "org.kde.StatusNotifierWatcher"
ITEM_IFACE = "org.kde.StatusNotifierItem"
MENU_IFACE = "com.canonical.dbusmenu"


class Watcher(ServiceInterface):
    """Accepts registrations; says a host is present so items export themselves."""

    def __init__(self):
        super().__init__(WATCHER)
        self.items = []

    @method()
    def RegisterStatusNotifierItem(self, service: "s"):  # noqa: F821
        self.StatusNotifierItemRegistered(service)

    @method()
    def RegisterStatusNotifierHost(self, service: "s"):  # noqa: F821
        pass

    @dbus_property(access=PropertyAccess.READ)
    def RegisteredStatusNotifierItems(self) -> "as":  # noqa: F722
        return self.items

    @dbus_property(access=PropertyAccess.READ)
    def IsStatusNotifierHostRegistered(self) -> "b":  # noqa: F821
        return True

    @dbus_property(access=PropertyAccess.READ)
    def ProtocolVersion(self) -> "i":  # noqa: F821
        return 0

    @signal()
    def StatusNotifierItemRegistered(self, service) -> "s":  # noqa: F821
        return service

    @signal()
    def StatusNotifierHostRegistered(self):
        pass


class Notifications(ServiceInterface):
    """Records desktop notifications instead of showing them."""

    def __init__(self, out_path):
        super().__init__("org.freedesktop.Notifications")
        self.out_path = out_path
        self.last_id = 0

    @method()
    def Notify(self, app_name: "s", replaces_id: "u", app_icon: "s", summary: "s",  # noqa: F821
               body: "s", actions: "as", hints: "a{sv}", expire_timeout: "i") -> "u":  # noqa: F821,F722
        self.last_id += 1
        with open(self.out_path, "a", encoding="utf-8") as f:
            f.write(json.dumps({"app": app_name, "summary": summary, "body": body}) + "\n")
        return self.last_id

    @method()
    def GetCapabilities(self) -> "as":  # noqa: F722
        return ["body"]

    @method()
    def GetServerInformation(self) -> "ssss":  # noqa: F821
        return ["fake-notifications", "test", "1.0", "1.2"]

    @method()
    def CloseNotification(self, notification_id: "u"):  # noqa: F821
        pass

    @signal()
    def NotificationClosed(self, notification_id, reason) -> "uu":  # noqa: F821
        return [notification_id, reason]


async def watch(out_path):
    bus = await MessageBus(bus_type=BusType.SESSION).connect()
    watcher = Watcher()

    def on_message(msg):
        # The sender is only visible here; the service method runs afterwards.
        if (msg.message_type == MessageType.METHOD_CALL and msg.interface == WATCHER
                and msg.member == "RegisterStatusNotifierItem"):
            arg = msg.body[0]
            path = arg if arg.startswith("/") else "/StatusNotifierItem"
            sender = msg.sender if arg.startswith("/") else arg
            watcher.items.append(f"{sender}{path}")
            with open(out_path, "a", encoding="utf-8") as f:
                f.write(json.dumps({"sender": sender, "path": path}) + "\n")
        return None

    bus.add_message_handler(on_message)
    bus.export("/StatusNotifierWatcher", watcher)
    await bus.request_name(WATCHER)
    bus.export("/org/freedesktop/Notifications", Notifications(out_path + ".notifications"))
    await bus.request_name("org.freedesktop.Notifications")
    print("watcher ready", flush=True)
    await bus.wait_for_disconnect()


def last_item(items_path):
    with open(items_path, encoding="utf-8") as f:
        lines = [line for line in f.read().splitlines() if line.strip()]
    if not lines:
        raise SystemExit("no tray item registered")
    return json.loads(lines[-1])


async def interface(bus, name, path, iface):
    node = await bus.introspect(name, path)
    return bus.get_proxy_object(name, path, node).get_interface(iface)


def flatten(node, out):
    item_id, props, children = node
    label = props.get("label")
    if label is not None:
        out.append({
            "id": item_id,
            "label": label.value.replace("_", ""),
            "enabled": props["enabled"].value if "enabled" in props else True,
            "toggle": props["toggle-state"].value if "toggle-state" in props else None,
        })
    for child in children:
        flatten(child.value, out)
    return out


async def menu(items_path):
    bus = await MessageBus(bus_type=BusType.SESSION).connect()
    item = last_item(items_path)
    sni = await interface(bus, item["sender"], item["path"], ITEM_IFACE)
    menu_path = await sni.get_menu()
    props = {"title": await sni.get_title(), "status": await sni.get_status(),
             "icon": await sni.get_icon_name(), "sender": item["sender"], "menu": menu_path}
    dbusmenu = await interface(bus, item["sender"], menu_path, MENU_IFACE)
    return bus, dbusmenu, props


async def layout(items_path):
    _, dbusmenu, props = await menu(items_path)
    _, root = await dbusmenu.call_get_layout(0, -1, [])
    print(json.dumps({"item": props, "entries": flatten(root, [])}), flush=True)


async def click(items_path, label):
    _, dbusmenu, _ = await menu(items_path)
    _, root = await dbusmenu.call_get_layout(0, -1, [])
    entries = [e for e in flatten(root, []) if e["label"].startswith(label)]
    if not entries:
        raise SystemExit(f"no menu entry {label!r}")
    await dbusmenu.call_event(entries[0]["id"], "clicked", Variant("i", 0), int(time.time()))
    print(json.dumps(entries[0]), flush=True)


def main(argv):
    if len(argv) >= 2 and argv[0] == "watch":
        asyncio.run(watch(argv[1]))
    elif len(argv) >= 2 and argv[0] == "layout":
        asyncio.run(layout(argv[1]))
    elif len(argv) >= 3 and argv[0] == "click":
        asyncio.run(click(argv[1], argv[2]))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
