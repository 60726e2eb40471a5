//! The bench's tables, as aligned text for the terminal and as Markdown for BENCHMARKS.md.

/// A table's shape: its headers, which columns are numbers (right-aligned), and which one
/// is free text (left unpadded, as the last column).
pub struct Shape<'a> {
    pub headers: &'a [&'a str],
    pub numeric: fn(usize) -> bool,
    pub free: usize,
}

impl Shape<'_> {
    /// Aligned text: one line per row, columns two spaces apart.
    pub fn text<R: AsRef<[String]>>(&self, body: &[R]) -> String {
        let mut width: Vec<usize> = self.headers.iter().map(|h| h.len()).collect();
        for row in body {
            for (w, c) in width.iter_mut().zip(row.as_ref()) {
                *w = (*w).max(c.chars().count());
            }
        }
        let line = |cells: &[String]| {
            let mut s = String::new();
            for (i, (c, &w)) in cells.iter().zip(&width).enumerate() {
                if i > 0 {
                    s.push_str("  ");
                }
                s += &if (self.numeric)(i) {
                    format!("{c:>w$}")
                } else if i == self.free {
                    c.clone()
                } else {
                    format!("{c:<w$}")
                };
            }
            s.trim_end().to_string() + "\n"
        };
        let header: Vec<String> = self.headers.iter().map(|h| h.to_string()).collect();
        let mut out = line(&header);
        for row in body {
            out += &line(row.as_ref());
        }
        out
    }

    /// A Markdown table, numbers right-aligned.
    pub fn markdown<R: AsRef<[String]>>(&self, body: &[R]) -> String {
        let mut out = format!("| {} |\n|", self.headers.join(" | "));
        for i in 0..self.headers.len() {
            out += if (self.numeric)(i) { "---:|" } else { "---|" };
        }
        out += "\n";
        for row in body {
            let c: Vec<String> = row.as_ref().iter().map(|c| c.replace('|', "\\|")).collect();
            out += &format!("| {} |\n", c.join(" | "));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape() -> Shape<'static> {
        Shape {
            headers: &["name", "n", "note"],
            numeric: |i| i == 1,
            free: 2,
        }
    }

    #[test]
    fn text_aligns_numbers_right_and_leaves_the_note_free() {
        let body = vec![
            vec!["a".to_string(), "10".into(), "x".into()],
            vec!["long".to_string(), "2".into(), String::new()],
        ];
        assert_eq!(
            shape().text(&body),
            "name   n  note\na     10  x\nlong   2\n"
        );
    }

    #[test]
    fn markdown_escapes_pipes() {
        let body = vec![vec!["a|b".to_string(), "1".into(), "".into()]];
        assert_eq!(
            shape().markdown(&body),
            "| name | n | note |\n|---|---:|---|\n| a\\|b | 1 |  |\n"
        );
    }
}
