//! `fs/read_text_file` and `fs/write_text_file`: the agent reads and writes through baton, and
//! only inside the thread's working directory.
//!
//! Both the cwd and the requested path are canonicalised (symlinks resolved) before the check, so
//! neither `..` nor a symlink leads outside. A file that does not exist yet is judged by its
//! nearest existing ancestor. Every refusal is logged and answered with an error naming the rule.

use std::path::{Component, Path, PathBuf};

use agent_client_protocol_schema::v1::{ReadTextFileRequest, WriteTextFileRequest};
use serde_json::{Value, json};

use crate::rpc::RpcError;

/// ACP's "resource not found".
const NOT_FOUND: i64 = -32002;

/// Why a path is refused.
fn outside(path: &Path, cwd: &Path) -> RpcError {
    RpcError::invalid_params(format!(
        "{} is outside the thread's working directory {}; baton serves files only inside it",
        path.display(),
        cwd.display()
    ))
}

/// The canonical form of `requested` when it lies inside `cwd`. A path that does not exist (yet)
/// is resolved through its nearest existing ancestor; its remaining parts may not climb.
pub fn resolve(cwd: &Path, requested: &Path) -> Result<PathBuf, RpcError> {
    let root = cwd.canonicalize().map_err(|e| {
        RpcError::internal(format!(
            "the thread's working directory {} cannot be resolved: {e}",
            cwd.display()
        ))
    })?;
    let joined = if requested.is_absolute() {
        requested.to_path_buf()
    } else {
        root.join(requested)
    };
    let mut existing = joined.as_path();
    let mut rest: Vec<&std::ffi::OsStr> = Vec::new();
    let base = loop {
        match existing.canonicalize() {
            Ok(p) => break p,
            Err(_) => {
                let Some(parent) = existing.parent() else {
                    return Err(outside(requested, &root));
                };
                match existing.components().next_back() {
                    Some(Component::Normal(name)) => rest.push(name),
                    _ => return Err(outside(requested, &root)),
                }
                existing = parent;
            }
        }
    };
    let mut full = base;
    for part in rest.into_iter().rev() {
        full.push(part);
    }
    if full.starts_with(&root) {
        Ok(full)
    } else {
        Err(outside(requested, &root))
    }
}

/// Serves `fs/read_text_file` (1-based `line`, `limit` lines).
pub async fn read(cwd: &Path, params: Value) -> Result<Value, RpcError> {
    let req: ReadTextFileRequest = serde_json::from_value(params)
        .map_err(|e| RpcError::invalid_params(format!("fs/read_text_file: {e}")))?;
    let path = resolve(cwd, &req.path).inspect_err(|e| {
        tracing::warn!(path = %req.path.display(), "agent read refused: {}", e.message);
    })?;
    let text = tokio::fs::read_to_string(&path).await.map_err(|e| {
        let code = if e.kind() == std::io::ErrorKind::NotFound {
            NOT_FOUND
        } else {
            -32603
        };
        RpcError::new(code, format!("cannot read {}: {e}", path.display()))
    })?;
    let content = match (req.line, req.limit) {
        (None, None) => text,
        (line, limit) => {
            let skip = line.map_or(0, |l| l.saturating_sub(1)) as usize;
            let take = limit.map_or(usize::MAX, |l| l as usize);
            text.lines()
                .skip(skip)
                .take(take)
                .collect::<Vec<_>>()
                .join("\n")
        }
    };
    Ok(json!({ "content": content }))
}

/// Serves `fs/write_text_file`, creating missing parent directories inside the cwd.
pub async fn write(cwd: &Path, params: Value) -> Result<Value, RpcError> {
    let req: WriteTextFileRequest = serde_json::from_value(params)
        .map_err(|e| RpcError::invalid_params(format!("fs/write_text_file: {e}")))?;
    let path = resolve(cwd, &req.path).inspect_err(|e| {
        tracing::warn!(path = %req.path.display(), "agent write refused: {}", e.message);
    })?;
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(|e| RpcError::internal(format!("cannot create {}: {e}", parent.display())))?;
    }
    tokio::fs::write(&path, req.content.as_bytes())
        .await
        .map_err(|e| RpcError::internal(format!("cannot write {}: {e}", path.display())))?;
    Ok(Value::Null)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn paths_inside_are_served_and_everything_else_refused() {
        let dir = tempfile::tempdir().unwrap();
        let cwd = dir.path().join("proj");
        std::fs::create_dir_all(cwd.join("src")).unwrap();
        std::fs::write(cwd.join("src/a.txt"), "x").unwrap();
        let root = cwd.canonicalize().unwrap();
        assert_eq!(
            resolve(&cwd, &cwd.join("src/a.txt")).unwrap(),
            root.join("src/a.txt")
        );
        // A new file in a new directory is judged by the nearest existing ancestor.
        assert_eq!(
            resolve(&cwd, &cwd.join("new/dir/b.txt")).unwrap(),
            root.join("new/dir/b.txt")
        );
        assert_eq!(
            resolve(&cwd, Path::new("rel.txt")).unwrap(),
            root.join("rel.txt")
        );
        for bad in [
            dir.path().join("secret.txt"),
            cwd.join("../secret.txt"),
            cwd.join("src/../../secret.txt"),
            cwd.join("missing/../../secret.txt"),
            PathBuf::from("/etc/passwd"),
        ] {
            let e = resolve(&cwd, &bad).unwrap_err();
            assert!(e.message.contains("outside"), "{bad:?}: {}", e.message);
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_out_of_the_cwd_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let cwd = dir.path().join("proj");
        std::fs::create_dir_all(&cwd).unwrap();
        std::fs::write(dir.path().join("secret.txt"), "s").unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret.txt"), cwd.join("link")).unwrap();
        std::os::unix::fs::symlink(dir.path(), cwd.join("up")).unwrap();
        assert!(resolve(&cwd, &cwd.join("link")).is_err());
        assert!(resolve(&cwd, &cwd.join("up/new.txt")).is_err());
    }

    #[tokio::test]
    async fn reads_lines_and_writes_new_files() {
        let dir = tempfile::tempdir().unwrap();
        let cwd = dir.path();
        std::fs::write(cwd.join("f.txt"), "one\ntwo\nthree\n").unwrap();
        let p = |path: &Path, extra: Value| {
            let mut v = json!({"sessionId": "s", "path": path});
            for (k, x) in extra.as_object().unwrap() {
                v[k] = x.clone();
            }
            v
        };
        let r = read(cwd, p(&cwd.join("f.txt"), json!({"line": 2, "limit": 1})))
            .await
            .unwrap();
        assert_eq!(r["content"], "two");
        let e = read(cwd, p(&cwd.join("none.txt"), json!({})))
            .await
            .unwrap_err();
        assert_eq!(e.code, NOT_FOUND);
        write(cwd, p(&cwd.join("d/new.txt"), json!({"content": "hello"})))
            .await
            .unwrap();
        assert_eq!(
            std::fs::read_to_string(cwd.join("d/new.txt")).unwrap(),
            "hello"
        );
        let outside_file = dir.path().parent().unwrap().join("baton-acp-never.txt");
        let e = write(cwd, p(&outside_file, json!({"content": "x"})))
            .await
            .unwrap_err();
        assert!(e.message.contains("outside"));
        assert!(!outside_file.exists());
    }
}
