use std::time::Instant;
fn main() {
    let root = std::env::args().nth(1).unwrap();
    let n: usize = std::env::args().nth(2).map(|s| s.parse().unwrap()).unwrap_or(10);
    if std::env::args().nth(3).as_deref() == Some("cold") {
        let _ = std::fs::remove_file(muse_core::paths::stat_cache_path(std::path::Path::new(&root)));
    }
    let opts = muse_core::snapshot::WalkOptions::default();
    let mut ts = vec![];
    for _ in 0..n {
        let t = Instant::now();
        let m = muse_core::snapshot::walk_workdir_sorted(std::path::Path::new(&root), &opts).unwrap();
        ts.push(t.elapsed().as_secs_f64() * 1e3);
        drop(m);
    }
    ts.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!("{:?}", ts.iter().map(|x| format!("{x:.1}")).collect::<Vec<_>>());
}
