#!/usr/bin/python3
"""Renders the app's tray menu the way an AppIndicator host does (libdbusmenu-gtk3 builds a GTK
menu from the com.canonical.dbusmenu object the app exports), pops it up on the X display and
saves a PNG of it. System Python (python3-gi, gir1.2-dbusmenu-gtk3-0.4), not the venv.

usage: tray_menu_shot.py BUS_NAME MENU_PATH ICON_PNG OUT_PNG
"""

import sys

import gi

gi.require_version("Gtk", "3.0")
gi.require_version("Gdk", "3.0")
gi.require_version("DbusmenuGtk3", "0.4")
from gi.repository import DbusmenuGtk3, Gdk, GdkPixbuf, GLib, Gtk  # noqa: E402


def main(bus_name, menu_path, icon_path, out_path):
    # A small "panel" with the tray icon, so the picture shows where the menu comes from.
    panel = Gtk.Window(type=Gtk.WindowType.POPUP)
    panel.move(40, 10)
    box = Gtk.Box(spacing=6)
    icon = GdkPixbuf.Pixbuf.new_from_file_at_size(icon_path, 22, 22)
    box.pack_start(Gtk.Image.new_from_pixbuf(icon), False, False, 4)
    panel.add(box)
    panel.show_all()

    menu = DbusmenuGtk3.Menu.new(bus_name, menu_path)
    result = {"code": 1}

    def popup():
        if not menu.get_children():
            return True  # the layout is still loading over D-Bus
        menu.popup_at_widget(box, Gdk.Gravity.SOUTH_WEST, Gdk.Gravity.NORTH_WEST, None)
        GLib.timeout_add(700, shoot)
        return False

    def shoot():
        top = menu.get_toplevel().get_window()
        x, y = top.get_origin()[1:]
        width, height = top.get_width(), top.get_height()
        left, upper = 30, 0
        root = Gdk.get_default_root_window()
        shot = Gdk.pixbuf_get_from_window(root, left, upper, x - left + width + 4, y - upper + height + 4)
        shot.savev(out_path, "png", [], [])
        result["code"] = 0
        Gtk.main_quit()
        return False

    GLib.timeout_add(100, popup)
    GLib.timeout_add(15000, Gtk.main_quit)
    Gtk.main()
    return result["code"]


if __name__ == "__main__":
    if len(sys.argv) != 5:
        raise SystemExit(__doc__)
    sys.exit(main(*sys.argv[1:]))
