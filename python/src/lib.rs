//! `crosswatch_tautulli._native`: a Python extension that is an `abi_stable` host. It loads the
//! Tautulli plugin (`libtautulli_plugin.so`, shipped inside the wheel) through the contract, as
//! every other host does, so the engine runs the same plugin file `host-sim` tests.
//!
//! The Python side (`crosswatch_tautulli.provider`) speaks the engine's module surface; this
//! layer only crosses the boundary: JSON strings in, Python objects out, the GIL released while
//! the plugin waits on Tautulli, and every `PluginError` raised as `PluginError` with its code.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::sync::Mutex;

use abi_stable::library::{lib_header_from_path, RootModule};
use abi_stable::std_types::{RResult, RStr};
use crosswatch_contract::{
    IndexCursorBox, PluginMod_Ref, PluginResult, SourceProviderBox, CONTRACT_VERSION,
};
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use pyo3::IntoPyObjectExt;
use serde_json::Value;

create_exception!(
    _native,
    PluginError,
    PyException,
    "A call into the plugin failed; `.code` is the contract's error name (`auth_failed`, \
     `unreachable`, `read_only`, `config_invalid`, ...)."
);

/// Raises `PluginError(message)` with `.code` set to `code`.
fn plugin_error(py: Python<'_>, code: &str, message: impl Into<String>) -> PyErr {
    let err = PluginError::new_err(message.into());
    // Setting an attribute on a fresh exception instance cannot fail in practice; if it did,
    // the exception without `.code` is still the right one to raise.
    let _ = err.value(py).setattr("code", code);
    err
}

fn into<T>(py: Python<'_>, r: PluginResult<T>) -> PyResult<T> {
    match r {
        RResult::ROk(v) => Ok(v),
        RResult::RErr(e) => Err(plugin_error(py, e.code.name(), e.message.as_str())),
    }
}

/// A JSON value as plain Python objects (dict, list, str, int, float, bool, None).
fn to_py(py: Python<'_>, v: &Value) -> PyResult<PyObject> {
    Ok(match v {
        Value::Null => py.None(),
        Value::Bool(b) => b.into_py_any(py)?,
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => i.into_py_any(py)?,
            (None, Some(u)) => u.into_py_any(py)?,
            _ => n.as_f64().unwrap_or(f64::NAN).into_py_any(py)?,
        },
        Value::String(s) => s.into_py_any(py)?,
        Value::Array(a) => {
            let list = PyList::empty(py);
            for x in a {
                list.append(to_py(py, x)?)?;
            }
            list.into_py_any(py)?
        }
        Value::Object(m) => {
            let dict = PyDict::new(py);
            for (k, x) in m {
                dict.set_item(k, to_py(py, x)?)?;
            }
            dict.into_py_any(py)?
        }
    })
}

fn parse(py: Python<'_>, text: &str, what: &str) -> PyResult<PyObject> {
    let v: Value = serde_json::from_str(text).map_err(|e| {
        plugin_error(
            py,
            "bad_response",
            format!("the plugin answered {what} that is not JSON: {e}"),
        )
    })?;
    to_py(py, &v)
}

/// A loaded plugin file.
#[pyclass(module = "crosswatch_tautulli._native", frozen)]
struct Plugin {
    module: PluginMod_Ref,
    path: PathBuf,
}

#[pymethods]
impl Plugin {
    /// Loads the plugin at `path`, refusing a file built against an incompatible contract.
    /// `lib_header_from_path`, not `load_from_file`: the latter caches one plugin per process.
    #[staticmethod]
    fn load(py: Python<'_>, path: PathBuf) -> PyResult<Plugin> {
        if !path.is_file() {
            return Err(plugin_error(
                py,
                "internal",
                format!("no plugin file at {}", path.display()),
            ));
        }
        let module = lib_header_from_path(&path)
            .and_then(|h| h.init_root_module::<PluginMod_Ref>())
            .map_err(|e| {
                let first: String = e
                    .to_string()
                    .lines()
                    .take(6)
                    .collect::<Vec<_>>()
                    .join(" / ");
                plugin_error(
                    py,
                    "internal",
                    format!("cannot load the plugin {}: {first}", path.display()),
                )
            })?;
        let version = (module.contract_version())().to_string();
        if version.split('.').next() != CONTRACT_VERSION.split('.').next() {
            return Err(plugin_error(
                py,
                "internal",
                format!(
                    "the plugin {} speaks contract payload version {version}, this host {CONTRACT_VERSION}",
                    path.display()
                ),
            ));
        }
        Ok(Plugin { module, path })
    }

    /// The plugin file's name on this platform (`libtautulli_plugin.so` on Linux).
    #[staticmethod]
    fn file_name() -> String {
        PluginMod_Ref::get_library_path(std::path::Path::new(""))
            .display()
            .to_string()
    }

    #[getter]
    fn path(&self) -> PathBuf {
        self.path.clone()
    }

    fn contract_version(&self) -> String {
        (self.module.contract_version())().to_string()
    }

    /// The manifest, available without a config.
    fn manifest(&self, py: Python<'_>) -> PyResult<PyObject> {
        let text = into(py, (self.module.manifest())())?;
        parse(py, &text, "a manifest")
    }

    /// Opens the source provider: `config_json` is the engine's whole config as JSON,
    /// `instance` the instance id (`""`: the block as given).
    fn open_source(&self, py: Python<'_>, config_json: &str, instance: &str) -> PyResult<Source> {
        let open = self.module.open_source();
        let provider = into(
            py,
            open(RStr::from_str(config_json), RStr::from_str(instance)),
        )?;
        Ok(Source {
            provider: Mutex::new(provider),
        })
    }
}

/// An open source provider. Calls that reach Tautulli run without the GIL.
///
/// The provider sits behind a mutex (Python may share the object between threads), and the
/// mutex is only ever taken with the GIL released, so a thread waiting for it never holds
/// the GIL that its holder needs.
#[pyclass(module = "crosswatch_tautulli._native", frozen)]
struct Source {
    provider: Mutex<SourceProviderBox>,
}

impl Source {
    /// Runs `f` on the provider without the GIL.
    fn call<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut SourceProviderBox) -> PluginResult<T> + Send,
    ) -> PyResult<T> {
        let r = py.allow_threads(|| {
            // A poisoned lock only means another call panicked on the host side; the
            // provider itself is still whole (its panics are caught inside the plugin).
            let mut p = self.provider.lock().unwrap_or_else(|e| e.into_inner());
            f(&mut p)
        });
        into(py, r)
    }
}

#[pymethods]
impl Source {
    fn name(&self, py: Python<'_>) -> PyResult<String> {
        Ok(self.call(py, |p| p.name())?.into())
    }

    fn label(&self, py: Python<'_>) -> PyResult<String> {
        Ok(self.call(py, |p| p.label())?.into())
    }

    fn features(&self, py: Python<'_>) -> PyResult<PyObject> {
        let text = self.call(py, |p| p.features())?;
        parse(py, &text, "features")
    }

    fn capabilities(&self, py: Python<'_>) -> PyResult<PyObject> {
        let text = self.call(py, |p| p.capabilities())?;
        parse(py, &text, "capabilities")
    }

    fn manifest(&self, py: Python<'_>) -> PyResult<PyObject> {
        let text = self.call(py, |p| p.manifest())?;
        parse(py, &text, "a manifest")
    }

    /// `{ok, status, latency_ms, details, features}`; asks Tautulli, without the GIL.
    fn health(&self, py: Python<'_>) -> PyResult<PyObject> {
        let text = self.call(py, |p| p.health())?;
        parse(py, &text, "a health answer")
    }

    /// Reads the index of `feature` with the plugin's index options (`options_json`). Each
    /// batch is turned into Python objects and dropped before the next is read, so the index
    /// is never held as JSON and as a dict at once. `progress(phase, done, total)`, when
    /// given, is called between steps. Returns `(index, report)`.
    #[pyo3(signature = (feature, options_json, progress=None))]
    fn index(
        &self,
        py: Python<'_>,
        feature: &str,
        options_json: &str,
        progress: Option<PyObject>,
    ) -> PyResult<(PyObject, PyObject)> {
        let mut cursor: IndexCursorBox = self.call(py, |p| {
            p.index(RStr::from_str(feature), RStr::from_str(options_json))
        })?;
        let index = PyDict::new(py);
        loop {
            let step = py.allow_threads(|| cursor.next());
            let step = into(py, step)?;
            if let Some(cb) = &progress {
                cb.call1(
                    py,
                    (
                        step.progress.phase.as_str(),
                        step.progress.done,
                        step.progress.total,
                    ),
                )?;
            }
            for entry in step.entries {
                let item = parse(py, entry.item_json.as_str(), "an index item")?;
                index.set_item(entry.key.as_str(), item)?;
            }
            if step.done {
                break;
            }
        }
        let report = into(py, cursor.report())?;
        Ok((
            index.into_py_any(py)?,
            parse(py, &report, "an index report")?,
        ))
    }

    /// Asks the plugin to add `items_json` (a JSON array); a read-only plugin raises
    /// `PluginError` with code `read_only` and sends nothing.
    fn add(
        &self,
        py: Python<'_>,
        feature: &str,
        items_json: &str,
        dry_run: bool,
    ) -> PyResult<PyObject> {
        let text = self.call(py, |p| {
            p.add(RStr::from_str(feature), RStr::from_str(items_json), dry_run)
        })?;
        parse(py, &text, "a write result")
    }

    /// As [`Source::add`], for removals.
    fn remove(
        &self,
        py: Python<'_>,
        feature: &str,
        items_json: &str,
        dry_run: bool,
    ) -> PyResult<PyObject> {
        let text = self.call(py, |p| {
            p.remove(RStr::from_str(feature), RStr::from_str(items_json), dry_run)
        })?;
        parse(py, &text, "a write result")
    }
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("PluginError", m.py().get_type::<PluginError>())?;
    m.add("CONTRACT_VERSION", CONTRACT_VERSION)?;
    m.add_class::<Plugin>()?;
    m.add_class::<Source>()?;
    Ok(())
}
