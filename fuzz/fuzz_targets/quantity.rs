#![no_main]

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

// The API server's quantities (validation, defaults) and the readers of
// sizes and CPU the controllers and the node compute with.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    ordinal_apiserver::fuzz::quantity(data);
    let q = Quantity(String::from_utf8_lossy(data).into_owned());
    let _ = ordinal_core::quantity::bytes(&q);
    let _ = ordinal_core::quantity::millis(&q);
    let _ = ordinal_core::quantity::nanos(&q);
});
