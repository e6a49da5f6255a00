#include "args.h"

#include "errors.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace xlio {

bool GetArgs(napi_env env, napi_callback_info info, size_t n, napi_value* argv) {
  size_t argc = n;
  return napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) == napi_ok;
}

static napi_valuetype TypeOf(napi_env env, napi_value v) {
  napi_valuetype t = napi_undefined;
  napi_typeof(env, v, &t);
  return t;
}

bool IsUndefined(napi_env env, napi_value v) {
  return TypeOf(env, v) == napi_undefined;
}

bool GetString(napi_env env, napi_value v, const char* what, std::string* out) {
  if (TypeOf(env, v) != napi_string) {
    ThrowTypeError(env, std::string("The \"") + what + "\" argument must be a string");
    return false;
  }
  size_t len = 0;
  napi_get_value_string_utf8(env, v, nullptr, 0, &len);
  out->resize(len + 1);
  napi_get_value_string_utf8(env, v, &(*out)[0], len + 1, &len);
  out->resize(len);
  return true;
}

bool GetNumber(napi_env env, napi_value v, const char* what, double* out) {
  if (TypeOf(env, v) != napi_number) {
    ThrowTypeError(env, std::string("The \"") + what + "\" argument must be a number");
    return false;
  }
  napi_get_value_double(env, v, out);
  return true;
}

bool GetBool(napi_env env, napi_value v, const char* what, bool* out) {
  if (TypeOf(env, v) != napi_boolean) {
    ThrowTypeError(env, std::string("The \"") + what + "\" argument must be a boolean");
    return false;
  }
  napi_get_value_bool(env, v, out);
  return true;
}

std::string NumberText(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  char buf[32];
  // The shortest of %.15g/%.17g that reads back as the same double.
  std::snprintf(buf, sizeof buf, "%.15g", d);
  if (std::strtod(buf, nullptr) != d) std::snprintf(buf, sizeof buf, "%.17g", d);
  return buf;
}

napi_value MakeString(napi_env env, const char* s) {
  napi_value v = nullptr;
  napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &v);
  return v;
}

napi_value MakeNumber(napi_env env, double d) {
  napi_value v = nullptr;
  napi_create_double(env, d, &v);
  return v;
}

napi_value Undefined(napi_env env) {
  napi_value v = nullptr;
  napi_get_undefined(env, &v);
  return v;
}

}  // namespace xlio
