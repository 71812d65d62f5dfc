#!/usr/bin/python3
"""Asks an X window to close the way a window manager's close button does: a WM_PROTOCOLS
client message with WM_DELETE_WINDOW (the app then runs its own close handling). System
Python with python3-xlib.

usage: close_window.py WINDOW_ID
"""

import sys

from Xlib import X, display
from Xlib.protocol import event


def main(window_id):
    d = display.Display()
    window = d.create_resource_object("window", window_id)
    protocols = d.intern_atom("WM_PROTOCOLS")
    delete = d.intern_atom("WM_DELETE_WINDOW")
    message = event.ClientMessage(window=window, client_type=protocols, data=(32, [delete, X.CurrentTime, 0, 0, 0]))
    window.send_event(message, event_mask=X.NoEventMask)
    # A round trip before closing: an X server that sees the connection hang up before it has
    # read the request drops it, so flushing alone loses the message on a busy machine.
    d.sync()
    d.close()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    main(int(sys.argv[1], 0))
