#!/usr/bin/python3
"""Plays tzn-mqtt, Torizon's D-Bus emitter (PROTOCOL.md 7.2): owns
io.torizon.TznService on the bus in $DBUS_SESSION_BUS_ADDRESS and emits
io.torizon.TznService1.TznMessageSig(COMMAND, ARGS_JSON) from
/io/torizon/TznService, COUNT times, then exits.

  tzn_emit.py PollRasNow '{}' [COUNT]

Needs Debian's python3-gi (run with /usr/bin/python3).
"""
import sys
from gi.repository import Gio, GLib

command, args = sys.argv[1], sys.argv[2]
count = int(sys.argv[3]) if len(sys.argv) > 3 else 1
bus = Gio.bus_get_sync(Gio.BusType.SESSION, None)
reply = bus.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus",
                      "org.freedesktop.DBus", "RequestName",
                      GLib.Variant("(su)", ("io.torizon.TznService", 4)),
                      GLib.VariantType("(u)"), Gio.DBusCallFlags.NONE, 5000, None)
if reply.unpack()[0] not in (1, 4):  # primary owner / already owner
    sys.exit("tzn_emit: could not own io.torizon.TznService")
for _ in range(count):
    bus.emit_signal(None, "/io/torizon/TznService", "io.torizon.TznService1",
                    "TznMessageSig", GLib.Variant("(ss)", (command, args)))
bus.flush_sync(None)
