//! Output for people: aligned columns.

/// `rows` under `headers`, each column as wide as its widest cell (in characters), two spaces
/// apart, the last column unpadded.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers
        .iter()
        .map(|header| header.chars().count())
        .collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let last = cells.len().saturating_sub(1);
        let mut line = String::new();
        for (column, cell) in cells.into_iter().enumerate() {
            line.push_str(cell);
            if column < last {
                let padding = widths[column] - cell.chars().count() + 2;
                line.extend(std::iter::repeat_n(' ', padding));
            }
        }
        line.push('\n');
        line
    };
    let mut text = line(headers.to_vec());
    for row in rows {
        text.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_as_wide_as_their_widest_cell() {
        let rows = [
            vec!["alice".to_owned(), "ünï".to_owned(), "x".to_owned()],
            vec!["bo".to_owned(), "y".to_owned(), "".to_owned()],
        ];
        assert_eq!(
            table(&["NICK", "HOST", "ROOMS"], &rows),
            "NICK   HOST  ROOMS\nalice  ünï   x\nbo     y     \n"
        );
    }
}
