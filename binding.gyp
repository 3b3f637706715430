{
  "targets": [
    {
      "target_name": "sluice_native",
      "sources": ["native/raw_send.c", "native/udp_batch.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-std=gnu11"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
