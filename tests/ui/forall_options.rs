use gpujit::prelude::*;

fn main() {
    let dev = Device::cpu();
    let mut out = DeviceArray::<f32>::zeros(&dev, 4).unwrap();
    let s = dev.new_stream().unwrap();
    let _ = forall!(4, |i| out[i] = 1.0, strem = &s);
}
