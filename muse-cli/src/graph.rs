//! The ASCII history graph of `muse log --graph` (git's, simplified): one
//! column per line of descent, `*` for the commit, `|` for the other
//! lines, `\` where a merge opens a column for its second parent, `/`
//! where two columns reach the same commit and join.

/// The columns between two rows of `log --graph`.
#[derive(Debug, Default)]
pub struct Graph {
    /// The commit each column waits for (`None`: a free column).
    lanes: Vec<Option<String>>,
    /// The columns under the last commit, before any joined.
    cont: String,
}

impl Graph {
    /// A graph with no columns yet.
    pub fn new() -> Self {
        Graph::default()
    }

    fn render(&self, mark_col: Option<usize>) -> String {
        let mut s = String::new();
        for (i, l) in self.lanes.iter().enumerate() {
            if i > 0 {
                s.push(' ');
            }
            s.push(match (mark_col == Some(i), l) {
                (true, _) => '*',
                (false, Some(_)) => '|',
                (false, None) => ' ',
            });
        }
        s.trim_end().to_string()
    }

    /// The rows for commit `id` with `parents` (first parent first): the
    /// first is the commit's own prefix (with `*`), any others are
    /// connector rows to print before the next commit. Call in the log's
    /// order (children before parents).
    pub fn commit(&mut self, id: &str, parents: &[&str]) -> (String, Vec<String>) {
        let col = match self.lanes.iter().position(|l| l.as_deref() == Some(id)) {
            Some(c) => c,
            None => match self.lanes.iter().position(Option::is_none) {
                Some(free) => {
                    self.lanes[free] = Some(id.to_string());
                    free
                }
                None => {
                    self.lanes.push(Some(id.to_string()));
                    self.lanes.len() - 1
                }
            },
        };
        let row = self.render(Some(col));
        let mut after = Vec::new();
        self.lanes[col] = parents.first().map(|p| p.to_string());
        // A merge opens a column for each further parent not yet waited for.
        for p in parents.iter().skip(1) {
            if self.lanes.iter().any(|l| l.as_deref() == Some(*p)) {
                continue;
            }
            self.lanes.insert(col + 1, Some(p.to_string()));
            after.push(self.mark(col + 1, '\\'));
        }
        self.cont = self.render(None);
        // Columns that now wait for the same commit join (the rightmost
        // into the leftmost).
        let mut j = self.lanes.len();
        while j > 0 {
            j -= 1;
            let Some(want) = self.lanes[j].clone() else { continue };
            if self.lanes[..j].iter().any(|l| l.as_deref() == Some(want.as_str())) {
                after.push(self.mark(j, '/'));
                self.lanes[j] = None;
            }
        }
        while self.lanes.last().is_some_and(Option::is_none) {
            self.lanes.pop();
        }
        (row, after)
    }

    /// The columns with `c` in column `col`.
    fn mark(&self, col: usize, c: char) -> String {
        let mut line: Vec<char> = self.render(None).chars().collect();
        while line.len() <= 2 * col {
            line.push(' ');
        }
        line[2 * col] = c;
        line.into_iter().collect::<String>().trim_end().to_string()
    }

    /// The prefix for the last commit's further lines (its message in the
    /// long format): the columns under it, before any joined.
    pub fn continuation(&self) -> String {
        self.cont.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_merge_opens_and_joins_a_column() {
        // m = merge(a, b); a and b have parent r.
        let mut g = Graph::new();
        assert_eq!(g.commit("m", &["a", "b"]), ("*".to_string(), vec!["| \\".to_string()]));
        assert_eq!(g.commit("a", &["r"]), ("* |".to_string(), vec![]));
        assert_eq!(g.continuation(), "| |");
        assert_eq!(g.commit("b", &["r"]), ("| *".to_string(), vec!["| /".to_string()]));
        assert_eq!(g.continuation(), "| |");
        assert_eq!(g.commit("r", &[]), ("*".to_string(), vec![]));
        assert_eq!(g.continuation(), "");
    }
}
