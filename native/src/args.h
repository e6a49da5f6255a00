// Reading JavaScript arguments in N-API callbacks. Each Get* returns false with a
// TypeError pending when the value has the wrong type; `what` names the argument.

#pragma once

#include <node_api.h>

#include <string>

namespace xlio {

/** Up to `n` arguments into argv (missing ones are `undefined`). */
bool GetArgs(napi_env env, napi_callback_info info, size_t n, napi_value* argv);

bool IsUndefined(napi_env env, napi_value v);

bool GetString(napi_env env, napi_value v, const char* what, std::string* out);
bool GetNumber(napi_env env, napi_value v, const char* what, double* out);
bool GetBool(napi_env env, napi_value v, const char* what, bool* out);

/** A number as JavaScript would print it ("13", "0.5", "NaN"). */
std::string NumberText(double d);

napi_value MakeString(napi_env env, const char* s);
napi_value MakeNumber(napi_env env, double d);
napi_value Undefined(napi_env env);

}  // namespace xlio
