# The optional native addon (native/). Built by scripts/build-native.mjs from `npm install`;
# a failed build is reported and tolerated (src/native/addon.ts then explains what is missing).
{
  "targets": [
    {
      "target_name": "xlio_native",
      "conditions": [
        ["OS=='linux'", {
          "sources": [
            "native/src/addon.cc",
            "native/src/args.cc",
            "native/src/errors.cc",
            "native/src/futex.cc",
            "native/src/netns.cc",
            "native/src/packet.cc",
            "native/src/port.cc",
            "native/src/sab.cc",
            "native/src/shm.cc",
            "native/src/tap.cc",
            "native/src/xdp.cc"
          ],
          "defines": ["NAPI_VERSION=8"],
          "cflags_cc": ["-Wall", "-Wextra", "-Wno-unused-parameter"],
          "libraries": ["-lrt"]
        }, {
          # futex(2) and the Linux-only drivers have no equivalent elsewhere: fail the
          # build with a clear message; the install script reports it and carries on.
          "actions": [{
            "action_name": "unsupported",
            "inputs": [],
            "outputs": ["unsupported-platform"],
            "action": ["python3", "-c", "import sys; sys.exit('xlio_native needs Linux (futex, shm_open)')"]
          }]
        }]
      ]
    }
  ]
}
