#![no_main]

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

// Both readers of quantities: the API server's (validation, defaults) and
// the controllers' (scheduling, volume sizes).
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    ordinal_apiserver::fuzz::quantity(data);
    let q = Quantity(String::from_utf8_lossy(data).into_owned());
    let _ = ordinal_controllers::quantity::bytes(&q);
    let _ = ordinal_controllers::quantity::millis(&q);
    let _ = ordinal_controllers::quantity::nanos(&q);
});
