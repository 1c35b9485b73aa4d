//! Data files in and out of the CLI: CSV columns and `.npy` arrays to values for `store`, and loaded
//! values to `.npy`, `.csv` and `.json` files.
//!
//! Owns: reading and checking files (every cell or element must be a finite number the storage range
//! holds; a bad one is named by row and column, or by index), and writing values. Must never: talk to
//! the node — the caller stores only what was read without an error, so a bad file stores nothing.
//!
//! `.npy` here is NumPy's format version 1–3 for little-endian (or one-byte) integer and float arrays
//! in C order: `i1 i2 i4 i8 u1 u2 u4 u8 f4 f8` are read (u8 values above i64's range are refused),
//! `i8` and `f8` are written. Other dtypes, big-endian data and Fortran order are refused by name.

use enigma_protocol::fixed;
use enigma_protocol::value::{Array, ArrayData, Value};
use std::path::Path;

/// Why a file cannot be read or written. The message names the file and the place in it.
#[derive(Debug, thiserror::Error)]
pub enum DataFileError {
    #[error("{file}: {message}")]
    Bad { file: String, message: String },
    #[error("{file}: {source}")]
    Io { file: String, source: std::io::Error },
}

type Result<T> = std::result::Result<T, DataFileError>;

fn bad(path: &Path, message: impl Into<String>) -> DataFileError {
    DataFileError::Bad { file: path.display().to_string(), message: message.into() }
}

fn io(path: &Path, source: std::io::Error) -> DataFileError {
    DataFileError::Io { file: path.display().to_string(), source }
}

/// One cell or element, checked: an int, or a float (finite, in the storage range).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Num {
    Int(i64),
    Float(f64),
}

fn check_int(i: i64) -> std::result::Result<Num, String> {
    fixed::encode_int(i).map(|_| Num::Int(i)).map_err(|e| e.to_string())
}

fn check_float(x: f64) -> std::result::Result<Num, String> {
    if x.is_nan() {
        return Err("NaN is not a number the network can store".into());
    }
    fixed::encode_float(x).map(|_| Num::Float(x)).map_err(|e| e.to_string())
}

fn parse_cell(cell: &str) -> std::result::Result<Num, String> {
    if cell.is_empty() {
        return Err("the cell is empty".into());
    }
    if let Ok(i) = cell.parse::<i64>() {
        return check_int(i);
    }
    match cell.parse::<f64>() {
        Ok(x) => check_float(x),
        Err(_) => Err(format!("{cell:?} is not a number")),
    }
}

/// Ints stay ints; any float makes the whole array float (like numpy).
fn array(shape: Vec<usize>, nums: Vec<Num>) -> Value {
    let data = if nums.iter().all(|n| matches!(n, Num::Int(_))) {
        ArrayData::Int(nums.iter().map(|n| if let Num::Int(i) = n { *i } else { 0 }).collect())
    } else {
        ArrayData::Float(
            nums.iter()
                .map(|n| match n {
                    Num::Int(i) => *i as f64,
                    Num::Float(x) => *x,
                })
                .collect(),
        )
    };
    Value::Array(Array { shape, data })
}

/// A CSV file with a header row, every cell checked to be a number.
pub struct Table {
    pub headers: Vec<String>,
    /// Rows of checked cells (row-major).
    rows: Vec<Vec<Num>>,
}

impl Table {
    /// Reads and checks the whole file: a header row, then rows of exactly as many numeric cells.
    pub fn read_csv(path: &Path, wanted: Option<&[String]>) -> Result<Table> {
        let file = std::fs::File::open(path).map_err(|e| io(path, e))?;
        let mut reader = csv::ReaderBuilder::new().has_headers(true).trim(csv::Trim::All).from_reader(file);
        let mut headers: Vec<String> =
            reader.headers().map_err(|e| csv_error(path, e))?.iter().map(String::from).collect();
        // a byte-order mark (spreadsheets write one) is not part of the first column's name
        if let Some(first) = headers.first_mut()
            && let Some(rest) = first.strip_prefix('\u{feff}')
        {
            *first = rest.trim().to_string();
        }
        if headers.is_empty() || headers.iter().all(String::is_empty) {
            return Err(bad(path, "no header row (the first line must name the columns)"));
        }
        // the columns to check: the asked ones (each must exist, once), or all
        if let Some(names) = wanted
            && let Some((i, n)) = names.iter().enumerate().find(|(i, n)| names[..*i].contains(n))
        {
            return Err(bad(path, format!("column {n:?} is asked for twice (position {})", i + 1)));
        }
        let columns: Vec<usize> = match wanted {
            Some(names) => names
                .iter()
                .map(|n| {
                    headers
                        .iter()
                        .position(|h| h == n)
                        .ok_or_else(|| bad(path, format!("no column {n:?}; the columns are {}", quoted_list(&headers))))
                })
                .collect::<Result<_>>()?,
            None => (0..headers.len()).collect(),
        };
        let mut rows = Vec::new();
        for (i, record) in reader.records().enumerate() {
            let record = record.map_err(|e| csv_error(path, e))?;
            let row = i + 1;
            let line = record.position().map(|p| p.line()).unwrap_or(row as u64 + 1);
            let mut cells = Vec::with_capacity(columns.len());
            for &c in &columns {
                let cell = record.get(c).unwrap_or("");
                let n = parse_cell(cell)
                    .map_err(|m| bad(path, format!("row {row} (line {line}), column {:?}: {m}", headers[c])))?;
                cells.push(n);
            }
            rows.push(cells);
        }
        if rows.is_empty() {
            return Err(bad(path, "no data rows after the header"));
        }
        let headers = columns.iter().map(|&c| headers[c].clone()).collect();
        Ok(Table { headers, rows })
    }

    /// Column `j` (of the columns read) as a 1-D array.
    pub fn column(&self, j: usize) -> Value {
        array(vec![self.rows.len()], self.rows.iter().map(|r| r[j]).collect())
    }

    /// Every column read, as one 2-D array (rows × columns).
    pub fn matrix(&self) -> Value {
        array(vec![self.rows.len(), self.headers.len()], self.rows.iter().flatten().copied().collect())
    }
}

fn quoted_list(names: &[String]) -> String {
    names.iter().map(|n| format!("{n:?}")).collect::<Vec<_>>().join(", ")
}

fn csv_error(path: &Path, e: csv::Error) -> DataFileError {
    match e.kind() {
        csv::ErrorKind::UnequalLengths { pos, expected_len, len } => {
            let line = pos.as_ref().map(|p| p.line()).unwrap_or(0);
            let row = line.saturating_sub(1);
            bad(path, format!("row {row} (line {line}) has {len} cells, the header has {expected_len} (ragged rows)"))
        }
        csv::ErrorKind::Io(_) => bad(path, e.to_string()),
        _ => bad(path, format!("not a CSV file: {e}")),
    }
}

// ---- .npy ----

const NPY_MAGIC: &[u8] = b"\x93NUMPY";

/// Reads a `.npy` file: a scalar (shape `()`) or an n-dimensional array, checked element by element.
pub fn read_npy(path: &Path) -> Result<Value> {
    let bytes = std::fs::read(path).map_err(|e| io(path, e))?;
    parse_npy(&bytes).map_err(|m| bad(path, m))
}

fn parse_npy(bytes: &[u8]) -> std::result::Result<Value, String> {
    if bytes.len() < 10 || &bytes[..6] != NPY_MAGIC {
        return Err("not a .npy file (no \\x93NUMPY magic)".into());
    }
    let (header_len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10usize),
        2 | 3 if bytes.len() >= 12 => (u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize, 12),
        v => return Err(format!(".npy format version {v} is not supported (1, 2 and 3 are)")),
    };
    let end = start.checked_add(header_len).filter(|&e| e <= bytes.len()).ok_or("the header is cut short")?;
    let header = std::str::from_utf8(&bytes[start..end]).map_err(|_| "the header is not text")?;
    let descr = header_field(header, "descr").ok_or("the header has no 'descr'")?;
    let descr = descr.trim_matches(|c| c == '\'' || c == '"');
    match header_field(header, "fortran_order").as_deref() {
        Some("False") => {}
        Some("True") => {
            return Err("Fortran-order arrays are not supported: save with np.save(f, np.ascontiguousarray(a))".into());
        }
        _ => return Err("the header has no 'fortran_order'".into()),
    }
    let shape_text = header_field(header, "shape").ok_or("the header has no 'shape'")?;
    let shape: Vec<usize> = shape_text
        .trim_matches(|c| c == '(' || c == ')')
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>().map_err(|_| format!("bad shape {shape_text}")))
        .collect::<std::result::Result<_, _>>()?;
    let count = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d)).ok_or("the shape is too large")?;
    let (order, kind, size) = parse_descr(descr)?;
    if order == '>' && size > 1 {
        return Err(format!("big-endian data ({descr}) is not supported: save with a.astype('<{kind}{size}')"));
    }
    let data = &bytes[end..];
    let need = count.checked_mul(size).ok_or("the shape is too large")?;
    if data.len() != need {
        return Err(format!(
            "the data is {} bytes, but shape {shape_text} of {descr} needs {need} (truncated or padded file)",
            data.len()
        ));
    }
    let mut nums = Vec::with_capacity(count);
    for (i, chunk) in data.chunks_exact(size).enumerate() {
        let n = element(kind, chunk).map_err(|m| format!("element {}: {m}", index_of(i, &shape)))?;
        nums.push(n);
    }
    if shape.is_empty() {
        return Ok(match nums.first() {
            Some(Num::Int(i)) => Value::Int(*i),
            Some(Num::Float(x)) => Value::Float(*x),
            None => return Err("a scalar without data".into()),
        });
    }
    Ok(array(shape, nums))
}

/// `'<f8'` → ('<', 'f', 8).
fn parse_descr(descr: &str) -> std::result::Result<(char, char, usize), String> {
    let mut chars = descr.chars();
    let order = chars.next().ok_or("an empty dtype")?;
    let kind = chars.next().ok_or("an empty dtype")?;
    let size: usize = chars.as_str().parse().map_err(|_| format!("dtype {descr:?} is not supported"))?;
    let ok =
        matches!((kind, size), ('i' | 'u', 1 | 2 | 4 | 8) | ('f', 4 | 8)) && matches!(order, '<' | '|' | '=' | '>');
    if !ok {
        return Err(format!(
            "dtype {descr:?} is not supported: use integers (i1..i8, u1..u8) or floats (f4, f8); e.g. a.astype('<f8')"
        ));
    }
    Ok((order, kind, size))
}

fn element(kind: char, b: &[u8]) -> std::result::Result<Num, String> {
    match (kind, b.len()) {
        ('f', 8) => check_float(f64::from_le_bytes(b.try_into().map_err(|_| "size")?)),
        ('f', 4) => check_float(f32::from_le_bytes(b.try_into().map_err(|_| "size")?) as f64),
        ('i', 1) => check_int(b[0] as i8 as i64),
        ('i', 2) => check_int(i16::from_le_bytes(b.try_into().map_err(|_| "size")?) as i64),
        ('i', 4) => check_int(i32::from_le_bytes(b.try_into().map_err(|_| "size")?) as i64),
        ('i', 8) => check_int(i64::from_le_bytes(b.try_into().map_err(|_| "size")?)),
        ('u', 1) => check_int(b[0] as i64),
        ('u', 2) => check_int(u16::from_le_bytes(b.try_into().map_err(|_| "size")?) as i64),
        ('u', 4) => check_int(u32::from_le_bytes(b.try_into().map_err(|_| "size")?) as i64),
        ('u', 8) => {
            let u = u64::from_le_bytes(b.try_into().map_err(|_| "size")?);
            check_int(i64::try_from(u).map_err(|_| format!("value out of range for fixed-point: {u}"))?)
        }
        _ => Err("unsupported element".into()),
    }
}

/// The flat index `i` as a numpy index: `(1, 2)`.
fn index_of(mut i: usize, shape: &[usize]) -> String {
    let mut idx = vec![0; shape.len()];
    for (d, &n) in shape.iter().enumerate().rev() {
        if n > 0 {
            idx[d] = i % n;
            i /= n;
        }
    }
    format!("({})", idx.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", "))
}

/// The text of `key`'s value in a numpy header dict (`{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }`).
fn header_field(header: &str, key: &str) -> Option<String> {
    let at = header.find(&format!("'{key}'")).or_else(|| header.find(&format!("\"{key}\"")))?;
    let rest = header[at + key.len() + 2..].trim_start().strip_prefix(':')?.trim_start();
    let end = if rest.starts_with('(') {
        rest.find(')')? + 1
    } else if let Some(q) = rest.chars().next().filter(|c| *c == '\'' || *c == '"') {
        rest[1..].find(q)? + 2
    } else {
        rest.find([',', '}']).unwrap_or(rest.len())
    };
    Some(rest[..end].trim().to_string())
}

/// The `.npy` bytes of a number or numeric array (`<i8` or `<f8`).
pub fn npy_bytes(v: &Value) -> std::result::Result<Vec<u8>, String> {
    let (descr, shape, body): (&str, &[usize], Vec<u8>) = match v {
        Value::Int(i) => ("<i8", &[], i.to_le_bytes().to_vec()),
        Value::Float(x) => ("<f8", &[], x.to_le_bytes().to_vec()),
        Value::Array(a) => match &a.data {
            ArrayData::Int(d) => ("<i8", &a.shape, d.iter().flat_map(|x| x.to_le_bytes()).collect()),
            ArrayData::Float(d) => ("<f8", &a.shape, d.iter().flat_map(|x| x.to_le_bytes()).collect()),
        },
        other => return Err(format!("{} cannot be written as .npy: use .json", kind_name(other))),
    };
    let shape = match shape {
        [] => "()".to_string(),
        [n] => format!("({n},)"),
        dims => format!("({})", dims.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ")),
    };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    // magic (6) + version (2) + length (2) + header, padded with spaces to a multiple of 64, then '\n'
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let len = u16::try_from(header.len()).map_err(|_| "the array has too many dimensions for .npy v1")?;
    let mut out = Vec::with_capacity(10 + header.len() + body.len());
    out.extend_from_slice(NPY_MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(&body);
    Ok(out)
}

fn kind_name(v: &Value) -> &'static str {
    match v {
        Value::Int(_) | Value::Float(_) | Value::Array(_) => "a number",
        Value::String(_) => "a string",
        Value::Bytes(_) => "bytes",
        Value::Json(_) => "a JSON value",
    }
}

fn num_text(data: &ArrayData, i: usize) -> String {
    match data {
        ArrayData::Int(v) => v[i].to_string(),
        ArrayData::Float(v) => v[i].to_string(),
    }
}

/// CSV text of a number (header `value`), a 1-D array (one row per element, header `value`) or a
/// 2-D array (header `c0,c1,…`), so `enigma store --csv` reads it back.
pub fn csv_bytes(v: &Value) -> std::result::Result<Vec<u8>, String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let err = |e: csv::Error| e.to_string();
    match v {
        Value::Int(i) => {
            w.write_record(["value"]).map_err(err)?;
            w.write_record([i.to_string()]).map_err(err)?;
        }
        Value::Float(x) => {
            w.write_record(["value"]).map_err(err)?;
            w.write_record([x.to_string()]).map_err(err)?;
        }
        Value::Array(a) => match a.shape[..] {
            [n] => {
                w.write_record(["value"]).map_err(err)?;
                for i in 0..n {
                    w.write_record([num_text(&a.data, i)]).map_err(err)?;
                }
            }
            [rows, cols] => {
                w.write_record((0..cols).map(|c| format!("c{c}"))).map_err(err)?;
                for r in 0..rows {
                    w.write_record((0..cols).map(|c| num_text(&a.data, r * cols + c))).map_err(err)?;
                }
            }
            _ => return Err(format!("a {}-D array does not fit a CSV file: use .npy or .json", a.shape.len())),
        },
        other => return Err(format!("{} cannot be written as CSV: use .json", kind_name(other))),
    }
    w.into_inner().map_err(|e| e.to_string())
}

/// Writes a loaded value to `path` by its extension: `.npy`, `.csv`, `.json`; any other name takes
/// bytes (raw) or a string (UTF-8 text) as they are.
pub fn write_value(path: &Path, v: &Value) -> Result<()> {
    let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    let bytes = match ext.as_deref() {
        Some("npy") => npy_bytes(v).map_err(|m| bad(path, m))?,
        Some("csv") => csv_bytes(v).map_err(|m| bad(path, m))?,
        Some("json") => {
            let mut text = serde_json::to_string_pretty(&v.to_json()).map_err(|e| bad(path, e.to_string()))?;
            text.push('\n');
            text.into_bytes()
        }
        _ => match v {
            Value::Bytes(b) => b.clone(),
            Value::String(s) => s.clone().into_bytes(),
            other => {
                return Err(bad(
                    path,
                    format!(
                        "{} needs a file ending in .npy, .csv or .json (bytes and strings: any name)",
                        kind_name(other)
                    ),
                ));
            }
        },
    };
    std::fs::write(path, bytes).map_err(|e| io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tmp(name: &str, contents: &[u8]) -> (tempfile::TempDir, std::path::PathBuf) {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join(name);
        std::fs::write(&p, contents).unwrap();
        (d, p)
    }

    fn err_of(r: Result<Table>) -> String {
        match r {
            Ok(_) => panic!("expected an error"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn csv_columns_and_matrix() {
        let (_d, p) = tmp("a.csv", b"age, height\n45, 1.5\n43,1.75\n23,2\n");
        let t = Table::read_csv(&p, None).unwrap();
        assert_eq!(t.column(0).to_json(), json!([45, 43, 23]));
        assert_eq!(t.column(1).to_json(), json!([1.5, 1.75, 2.0]));
        assert_eq!(t.matrix().to_json(), json!([[45.0, 1.5], [43.0, 1.75], [23.0, 2.0]]));
        let t = Table::read_csv(&p, Some(&["height".into()])).unwrap();
        assert_eq!(t.headers, vec!["height"]);
        let (_d, p) = tmp("bom.csv", "\u{feff}age,height\n1,2\n".as_bytes());
        assert_eq!(Table::read_csv(&p, Some(&["age".into()])).unwrap().column(0).to_json(), json!([1]));
        assert_eq!(t.column(0).to_json(), json!([1.5, 1.75, 2.0]));
    }

    #[test]
    fn bad_csv_files_name_the_row_and_column() {
        let cases: &[(&[u8], &str)] = &[
            (b"a,b\n1,2\n3\n", "row 2 (line 3) has 1 cells, the header has 2"),
            (b"a,b\n1,2\n3,x\n", "row 2 (line 3), column \"b\": \"x\" is not a number"),
            (b"a,b\n1,NaN\n", "row 1 (line 2), column \"b\": NaN"),
            (b"a,b\n1,inf\n", "row 1 (line 2), column \"b\": value out of range for fixed-point: inf is not a finite"),
            (b"a,b\n1,\n", "row 1 (line 2), column \"b\": the cell is empty"),
            (b"a,b\n1,5000000000000\n", "column \"b\": value out of range"),
            (b"a,b\n", "no data rows"),
        ];
        for (text, want) in cases {
            let (_d, p) = tmp("bad.csv", text);
            let e = err_of(Table::read_csv(&p, None));
            assert!(e.contains(want) && e.contains("bad.csv"), "{e:?} should contain {want:?}");
        }
        let (_d, p) = tmp("m.csv", b"a,b\n1,2\n");
        let e = err_of(Table::read_csv(&p, Some(&["a".into(), "a".into()])));
        assert!(e.contains("column \"a\" is asked for twice"), "{e}");
        let e = err_of(Table::read_csv(&p, Some(&["c".into()])));
        assert!(e.contains("no column \"c\"; the columns are \"a\", \"b\""), "{e}");
        // a bad cell in a column not asked for does not matter
        let (_d, p) = tmp("m.csv", b"a,b\n1,x\n");
        assert_eq!(Table::read_csv(&p, Some(&["a".into()])).unwrap().column(0).to_json(), json!([1]));
        assert!(err_of(Table::read_csv(Path::new("/nonexistent.csv"), None)).contains("/nonexistent.csv"));
    }

    #[test]
    fn npy_roundtrips_and_reads_numpy_dtypes() {
        for v in
            [json!([[1, 2, 3], [4, 5, 6]]), json!([1.5, -2.25]), json!(7), json!(0.1), json!([[[1], [2]], [[3], [4]]])]
        {
            let value = Value::from_json(v.clone()).unwrap();
            let bytes = npy_bytes(&value).unwrap();
            assert_eq!((10 + u16::from_le_bytes([bytes[8], bytes[9]]) as usize) % 64, 0);
            assert_eq!(parse_npy(&bytes).unwrap(), value, "{v}");
        }
        let i4 = npy_with("<i4", "(2, 2)", &[1i32, 2, 3, 4].iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<_>>());
        assert_eq!(parse_npy(&i4).unwrap().to_json(), json!([[1, 2], [3, 4]]));
        let f4 = npy_with("<f4", "(2,)", &[1.5f32.to_le_bytes(), 2.0f32.to_le_bytes()].concat());
        assert_eq!(parse_npy(&f4).unwrap().to_json(), json!([1.5, 2.0]));
    }

    fn npy_with(descr: &str, shape: &str, body: &[u8]) -> Vec<u8> {
        let header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}\n");
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend_from_slice(&(header.len() as u16).to_le_bytes());
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn bad_npy_files_are_refused_by_name() {
        let nan = npy_with(
            "<f8",
            "(2, 2)",
            &[1.0f64, 2.0, 3.0, f64::NAN].iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<_>>(),
        );
        assert!(parse_npy(&nan).unwrap_err().contains("element (1, 1): NaN"), "{:?}", parse_npy(&nan));
        let inf = npy_with("<f8", "(1,)", &f64::INFINITY.to_le_bytes());
        assert!(parse_npy(&inf).unwrap_err().contains("element (0): value out of range"));
        let short = npy_with("<f8", "(3,)", &1.0f64.to_le_bytes());
        assert!(parse_npy(&short).unwrap_err().contains("truncated"));
        assert!(parse_npy(&npy_with("<U3", "(1,)", b"abc")).unwrap_err().contains("dtype \"<U3\" is not supported"));
        assert!(parse_npy(&npy_with(">f8", "(1,)", &[0; 8])).unwrap_err().contains("big-endian"));
        let mut fortran = npy_with("<f8", "(1,)", &[0; 8]);
        let at = fortran.windows(5).position(|w| w == b"False").unwrap();
        fortran[at..at + 5].copy_from_slice(b"True ");
        assert!(parse_npy(&fortran).unwrap_err().contains("Fortran-order"));
        assert!(parse_npy(b"a,b\n1,2\n").unwrap_err().contains("not a .npy file"));
        let big = npy_with("<u8", "(1,)", &u64::MAX.to_le_bytes());
        assert!(parse_npy(&big).unwrap_err().contains("out of range"));
    }

    #[test]
    fn csv_and_json_out() {
        let m = Value::from_json(json!([[1, 2], [3, 4]])).unwrap();
        assert_eq!(String::from_utf8(csv_bytes(&m).unwrap()).unwrap(), "c0,c1\n1,2\n3,4\n");
        let v = Value::from_json(json!([0.1, 2.5])).unwrap();
        assert_eq!(String::from_utf8(csv_bytes(&v).unwrap()).unwrap(), "value\n0.1\n2.5\n");
        let cube = Value::from_json(json!([[[1]]])).unwrap();
        assert!(csv_bytes(&cube).unwrap_err().contains("3-D"));
        assert!(csv_bytes(&Value::String("s".into())).unwrap_err().contains("use .json"));
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("m.csv");
        write_value(&p, &m).unwrap();
        assert_eq!(Table::read_csv(&p, None).unwrap().matrix(), m);
        let p = d.path().join("m.json");
        write_value(&p, &m).unwrap();
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&std::fs::read(&p).unwrap()).unwrap(),
            json!([[1, 2], [3, 4]])
        );
        assert!(write_value(&d.path().join("m.txt"), &m).unwrap_err().to_string().contains(".npy, .csv or .json"));
        write_value(&d.path().join("b.bin"), &Value::Bytes(vec![0, 1])).unwrap();
        assert_eq!(std::fs::read(d.path().join("b.bin")).unwrap(), vec![0, 1]);
    }
}
