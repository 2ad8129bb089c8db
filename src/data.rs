//! weft's installed data: the shipped LSTM model (`models/chorales`, ~0.95 MB), the
//! General MIDI SoundFont (`samples/sf_GMbank.sf2`, public domain, 4.2 MB) and the example
//! one-shot samples and the example kit (~120 kB) are embedded in the binary and unpacked, the first time one is
//! needed, to `$XDG_DATA_HOME/weft/<version>/` (`~/.local/share/weft/<version>/` when
//! `XDG_DATA_HOME` is unset). So `cargo install --path .` (or `make install`) is the whole
//! install: the binary finds its model and sounds from any folder.
//!
//! Lookup order for models and samples (the functions that use this: `neural::voices::
//! models_dir_for` and `sound::synth::samples_dir_for`): the patch folder, its parent, the
//! command-line flag (`--models` / `--samples`), the environment variable (`WEFT_MODELS` /
//! `WEFT_SAMPLES`), the current folder, then this installed data.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// One embedded file, by its path under the data folder.
struct Asset {
    path: &'static str,
    bytes: &'static [u8],
}

macro_rules! asset {
    ($p:literal) => {
        Asset {
            path: $p,
            bytes: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/", $p)),
        }
    };
}

const ASSETS: &[Asset] = &[
    asset!("models/chorales/config.json"),
    asset!("models/chorales/model.safetensors"),
    asset!("models/chorales/MODEL.md"),
    asset!("samples/sf_GMbank.sf2"),
    asset!("samples/SOUNDS.md"),
    asset!("samples/blip.wav"),
    asset!("samples/shaker.wav"),
    asset!("samples/thump.wav"),
    asset!("samples/bd/bd0.wav"),
    asset!("samples/sd/sd0.wav"),
    asset!("samples/hh/hh0.wav"),
    asset!("samples/hh/hh1.wav"),
];

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("no data folder: neither XDG_DATA_HOME nor HOME is set")]
    NoHome,
    #[error("cannot unpack weft's data to {0}: {1}")]
    Io(String, String),
}

/// Where this version's data goes: `$XDG_DATA_HOME/weft/<version>` or
/// `$HOME/.local/share/weft/<version>`.
pub fn data_dir() -> Result<PathBuf, DataError> {
    let base = match std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => std::env::var_os("HOME")
            .filter(|v| !v.is_empty())
            .map(|h| PathBuf::from(h).join(".local/share"))
            .ok_or(DataError::NoHome)?,
    };
    Ok(base.join("weft").join(env!("CARGO_PKG_VERSION")))
}

/// Writes every embedded file under `root` that is missing or has another size (each
/// through a temporary file renamed into place, so a concurrent weft never reads half a
/// file). Returns how many files were written.
pub fn unpack_to(root: &Path) -> Result<usize, DataError> {
    let io = |p: &Path, e: std::io::Error| DataError::Io(p.display().to_string(), e.to_string());
    let mut written = 0;
    for a in ASSETS {
        let dest = root.join(a.path);
        if std::fs::metadata(&dest).is_ok_and(|m| m.len() == a.bytes.len() as u64) {
            continue;
        }
        let dir = dest.parent().unwrap_or(root);
        std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        let tmp = dest.with_extension(format!("part{}", std::process::id()));
        std::fs::write(&tmp, a.bytes).map_err(|e| io(&tmp, e))?;
        std::fs::rename(&tmp, &dest).map_err(|e| io(&dest, e))?;
        written += 1;
    }
    Ok(written)
}

/// The installed data folder, unpacked on first use (once per process).
pub fn installed() -> Result<PathBuf, DataError> {
    static DIR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = data_dir().map_err(|e| e.to_string())?;
        unpack_to(&d).map_err(|e| e.to_string())?;
        Ok(d)
    })
    .clone()
    .map_err(|e| DataError::Io("weft's data folder".into(), e))
}

/// The first existing folder named `sub` (`models` or `samples`) in lookup order: the patch
/// folder's `sub/`, its parent's `sub/`, `flag`, the environment variable `env`, the current
/// folder's `sub/` (as before installs existed), then the installed data's `sub/`, unpacked
/// only when no other candidate exists, so a patch folder with its own `models/` and
/// `samples/` never writes to the data folder.
pub fn find_dir(sub: &str, patch_dir: &Path, flag: Option<&Path>, env: &str) -> Option<PathBuf> {
    local_candidates(sub, patch_dir, flag, env)
        .into_iter()
        .find(|p| p.is_dir())
        .or_else(|| installed().ok().map(|d| d.join(sub)).filter(|p| p.is_dir()))
}

fn local_candidates(sub: &str, patch_dir: &Path, flag: Option<&Path>, env: &str) -> Vec<PathBuf> {
    let dir = patch_dir
        .canonicalize()
        .unwrap_or_else(|_| patch_dir.to_path_buf());
    let mut v = vec![dir.join(sub)];
    if let Some(p) = dir.parent() {
        v.push(p.join(sub));
    }
    v.extend(flag.map(Path::to_path_buf));
    v.extend(
        std::env::var_os(env)
            .filter(|s| !s.is_empty())
            .map(PathBuf::from),
    );
    v.push(PathBuf::from(sub));
    v
}

/// Candidates for a folder a patch names (`samples("./kit")`), in lookup order: an absolute
/// path as it is; otherwise relative to the patch folder, then to `flag` (`--samples`), then
/// to the current folder, then to the installed data's `samples/`.
pub fn resolve(path: &Path, patch_dir: &Path, flag: Option<&Path>) -> Vec<PathBuf> {
    if path.is_absolute() {
        return vec![path.to_path_buf()];
    }
    let dir = patch_dir
        .canonicalize()
        .unwrap_or_else(|_| patch_dir.to_path_buf());
    let mut v = vec![dir.join(path)];
    v.extend(flag.map(|f| f.join(path)));
    v.push(path.to_path_buf());
    if let Ok(d) = installed() {
        v.push(d.join("samples").join(path));
    }
    v
}

/// "a, b and c" for error messages that say where weft looked.
pub fn list(paths: &[PathBuf]) -> String {
    let v: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    match v.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unpacks_every_asset_once_and_repairs_a_damaged_one() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(unpack_to(d.path()).unwrap(), ASSETS.len());
        assert_eq!(unpack_to(d.path()).unwrap(), 0);
        let sf = d.path().join("samples/sf_GMbank.sf2");
        std::fs::write(&sf, b"cut").unwrap();
        assert_eq!(unpack_to(d.path()).unwrap(), 1);
        let shipped = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/samples/sf_GMbank.sf2"
        ))
        .unwrap();
        assert_eq!(std::fs::read(&sf).unwrap(), shipped);
        assert!(d.path().join("models/chorales/config.json").is_file());
        // No temporary files are left behind.
        let names: Vec<_> = std::fs::read_dir(d.path().join("samples"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(names.iter().all(|n| !n.contains(".part")), "{names:?}");
    }

    #[test]
    fn search_order_is_patch_folder_parent_flag_then_env() {
        let d = tempfile::tempdir().unwrap();
        let patches = d.path().join("jam");
        std::fs::create_dir(&patches).unwrap();
        let flag = d.path().join("flagged");
        let v = local_candidates("models", &patches, Some(&flag), "WEFT_TEST_UNSET_VAR");
        let root = d.path().canonicalize().unwrap();
        assert_eq!(v[0], root.join("jam/models"));
        assert_eq!(v[1], root.join("models"));
        assert_eq!(v[2], flag);
        assert_eq!(list(&v[..3]).matches(", ").count(), 1);
    }

    #[test]
    fn resolve_order_is_patch_folder_flag_then_cwd() {
        let d = tempfile::tempdir().unwrap();
        let flag = d.path().join("flagged");
        let v = resolve(Path::new("kit"), d.path(), Some(&flag));
        let root = d.path().canonicalize().unwrap();
        assert_eq!(v[0], root.join("kit"));
        assert_eq!(v[1], flag.join("kit"));
        assert_eq!(v[2], PathBuf::from("kit"));
        assert_eq!(resolve(&root, d.path(), None), vec![root.clone()]);
    }
}
