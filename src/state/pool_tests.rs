//! Tests of the pool of recycled inodes.

use super::*;
use std::os::unix::fs::PermissionsExt;

fn folder() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let pool = tmp.path().join("pool");
    std::fs::create_dir(&pool).unwrap();
    (tmp, pool)
}

fn private(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

#[test]
fn a_given_file_keeps_its_inode_and_is_taken_where_nothing_is() {
    let (tmp, pool) = folder();
    let gone = tmp.path().join("gone.meta");
    private(&gone, "old version");
    let ino = std::fs::metadata(&gone).unwrap().ino();
    assert!(give(&pool, &gone).unwrap());
    assert!(!gone.exists());
    let busy = tmp.path().join("busy");
    private(&busy, "mine");
    assert!(!take(&pool, &busy), "never over a file that is there");
    assert_eq!(std::fs::read_to_string(&busy).unwrap(), "mine");
    let fresh = tmp.path().join("fresh");
    assert!(take(&pool, &fresh));
    assert_eq!(std::fs::metadata(&fresh).unwrap().ino(), ino);
    assert_eq!(std::fs::read_dir(&pool).unwrap().count(), 0);
    assert!(
        !take(&pool, &tmp.path().join("more")),
        "an empty pool gives nothing"
    );
    assert!(matches!(give(&pool, &gone), Err(e) if e.kind() == io::ErrorKind::NotFound));
}

#[test]
fn what_the_pool_does_not_keep_is_neither_given_nor_taken() {
    let (tmp, pool) = folder();
    // Given: a hard-linked file, a symlink, a large file stay where they are.
    let linked = tmp.path().join("linked");
    private(&linked, "x");
    std::fs::hard_link(&linked, tmp.path().join("other-name")).unwrap();
    let link = tmp.path().join("link");
    std::os::unix::fs::symlink(&linked, &link).unwrap();
    let large = tmp.path().join("large");
    private(&large, &"x".repeat(5000));
    for path in [&linked, &link, &large] {
        assert!(!give(&pool, path).unwrap(), "{}", path.display());
        assert!(std::fs::symlink_metadata(path).is_ok());
    }
    // Planted in the pool: a symlink to a secret, a folder, a hard link: never taken.
    let secret = tmp.path().join("secret");
    private(&secret, "secret");
    std::os::unix::fs::symlink(&secret, pool.join("planted-link")).unwrap();
    std::fs::create_dir(pool.join("planted-dir")).unwrap();
    std::fs::hard_link(&secret, pool.join("planted-hardlink")).unwrap();
    let dest = tmp.path().join("dest");
    assert!(!take(&pool, &dest));
    assert!(
        std::fs::symlink_metadata(&dest).is_err(),
        "nothing put at dest"
    );
    assert_eq!(std::fs::read_to_string(&secret).unwrap(), "secret");
    let left: Vec<_> = std::fs::read_dir(&pool)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(
        left,
        vec![std::ffi::OsString::from("planted-dir")],
        "planted entries go"
    );
}

#[test]
fn the_pool_keeps_at_most_its_cap() {
    let (tmp, pool) = folder();
    for i in 0..CAP - 2 {
        std::fs::write(pool.join(format!("held{i}")), "").unwrap();
    }
    let mut kept = 0;
    for i in 0..5 {
        let file = tmp.path().join(format!("f{i}"));
        private(&file, "x");
        if give(&pool, &file).unwrap() {
            kept += 1;
        } else {
            assert!(file.exists(), "a file not kept is left to the caller");
        }
    }
    assert_eq!(kept, 2);
    assert_eq!(std::fs::read_dir(&pool).unwrap().count(), CAP);
}
