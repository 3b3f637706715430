/* Argument and result helpers shared by the addon's source files (static inline: one copy per file, no link symbols). */
#ifndef SLUICE_NAPI_ARGS_H
#define SLUICE_NAPI_ARGS_H

#include <node_api.h>
#include <stdint.h>

static inline int arg_int(napi_env env, napi_value v, int32_t *out) { return napi_get_value_int32(env, v, out) == napi_ok ? 0 : -1; }

static inline int arg_buf(napi_env env, napi_value v, uint8_t **data, size_t *len) {
  void *d;
  if (napi_get_buffer_info(env, v, &d, len) != napi_ok) return -1;
  *data = d;
  return 0;
}

static inline napi_value num(napi_env env, int32_t v) {
  napi_value r;
  napi_create_int32(env, v, &r);
  return r;
}

#endif
