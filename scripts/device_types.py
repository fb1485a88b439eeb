#!/usr/bin/env python3
"""Derives the emulator's device-type catalogue (lua_stdlib/fibaro/device_types.json) from the
records a real HC3 reports (shared/data/hc3-device-types.json): per type its baseType,
interfaces, actions (name -> argument count) and the default properties a QuickApp of that type
starts with, without the hub-specific parts (views, icons, UI layout, logs, ids, timestamps).

Usage: scripts/device_types.py [path/to/hc3-device-types.json] > lua_stdlib/fibaro/device_types.json
"""
import json
import sys

# Properties that belong to one installed device on one hub, not to its type.
DROPPED = {
    "icon", "viewLayout", "uiView", "uiCallbacks", "quickAppVariables", "buildNumber", "log",
    "logTemp", "userDescription", "typeTemplateInitialized", "supportedDeviceRoles",
    "deviceIcon", "quickAppUuid", "initialInterfaces", "useEmbededView", "useUiView",
    "encrypted", "saveLogs", "categories", "manufacturer", "model", "apiVersion",
    "deviceControlType", "ui.config.selectedVoipUser.enabled", "password",
}


def trimmed(record):
    props = {
        name: value
        for name, value in sorted(record.get("properties", {}).items())
        if name not in DROPPED and not name.startswith("ui.")
    }
    return {
        "baseType": record.get("baseType", ""),
        "interfaces": sorted(i for i in record.get("interfaces", []) if i != "quickApp"),
        "actions": dict(sorted(record.get("actions", {}).items())),
        "properties": props,
        "categories": record.get("properties", {}).get("categories", []),
    }


def main():
    source = sys.argv[1] if len(sys.argv) > 1 else "../shared/data/hc3-device-types.json"
    with open(source) as f:
        records = json.load(f)
    # One type per line (still one JSON object): the emulator finds and decodes only the line
    # of the type it needs.
    lines = [
        json.dumps(name) + ":" + json.dumps(trimmed(records[name]), separators=(",", ":"), sort_keys=True)
        for name in sorted(records)
    ]
    sys.stdout.write("{\n" + ",\n".join(lines) + "\n}\n")


if __name__ == "__main__":
    main()
