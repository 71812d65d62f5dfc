//! Build script: lets tauri-build embed `tauri.conf.json`, the icons and the capability files.

fn main() {
    tauri_build::build();
}
