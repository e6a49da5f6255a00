#include "sab.h"

#include <v8.h>

#include <cstring>
#include <memory>

namespace xlio {

// A napi_value is a v8::Local<v8::Value> in disguise: Node converts between them with a
// reinterpret_cast/memcpy of the handle (JsValueFromV8LocalValue/V8LocalValueFromJsValue
// in node/src/js_native_api_v8.h). The helpers below do the same, and only within an
// N-API callback, whose HandleScope keeps the handle alive until the callback returns.
static_assert(sizeof(napi_value) == sizeof(v8::Local<v8::Value>), "napi_value is not a v8::Local");

static napi_value FromV8(v8::Local<v8::Value> local) {
  napi_value v;
  std::memcpy(static_cast<void*>(&v), static_cast<const void*>(&local), sizeof v);
  return v;
}

static v8::Local<v8::Value> ToV8(napi_value v) {
  v8::Local<v8::Value> local;
  std::memcpy(static_cast<void*>(&local), static_cast<const void*>(&v), sizeof v);
  return local;
}

napi_value NewSharedArrayBuffer(napi_env, void* data, size_t length, SabDeleter deleter, void* hint) {
  v8::Isolate* isolate = v8::Isolate::GetCurrent();
  // The backing store owns the memory from here on: V8 calls `deleter` when the last
  // SharedArrayBuffer over it (in any thread of this process) is gone.
  std::shared_ptr<v8::BackingStore> store = v8::SharedArrayBuffer::NewBackingStore(data, length, deleter, hint);
  v8::Local<v8::SharedArrayBuffer> sab = v8::SharedArrayBuffer::New(isolate, std::move(store));
  return FromV8(sab);
}

bool GetSharedArrayBuffer(napi_value value, void** data, size_t* length) {
  if (value == nullptr) return false;
  v8::Local<v8::Value> local = ToV8(value);
  if (!local->IsSharedArrayBuffer()) return false;
  v8::Local<v8::SharedArrayBuffer> sab = local.As<v8::SharedArrayBuffer>();
  // Data() is GetBackingStore()->Data() without the shared_ptr copy; valid while `sab` lives.
  *data = sab->Data();
  *length = sab->ByteLength();
  return true;
}

}  // namespace xlio
