//! Row rules: small boolean expressions over the columns of one row, e.g.
//! `bounce = (pages_viewed = 1)` or `session_duration >= 0 and pages_viewed <= 60`.
//!
//! Grammar (case-insensitive keywords):
//! ```text
//! expr := and ("or" and)*        and := not ("and" not)*      not := "not" not | cmp
//! cmp  := atom (("=" | "==" | "!=" | "<>" | "<" | "<=" | ">" | ">=") atom)?
//! atom := column | number | 'text' | true | false | "(" expr ")"
//! ```
//! SQL-like three-valued logic: a null operand makes the result unknown, and a rule only
//! fails a row when it evaluates to false (nulls are the not_null check's business).
//!
//! Rules are typed when the contract is loaded: both sides of a comparison have one type
//! (number, string, bool, date or timestamp; a `'YYYY-MM-DD'` text compared with a date or
//! timestamp column is read as that day), `and`/`or`/`not` take conditions, and the whole
//! rule is a condition. A mistyped rule would otherwise be false on every row and
//! quarantine everything. Size is bounded too (nesting depth, terms, length): the parser
//! and the evaluator recurse once per nesting level, so an unbounded rule could overflow
//! the stack and kill the process.

use std::cmp::Ordering;

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::{DataType, Date32Type, Float64Type, Int64Type, TimestampMicrosecondType};

use super::checks::{parse_date, parse_timestamp};
use super::contract::{ColumnType, Contract};

/// Deepest nesting of parentheses and `not`s in a rule.
pub const MAX_RULE_DEPTH: usize = 64;
/// Most operands (columns and literals) in a rule.
pub const MAX_RULE_TERMS: usize = 4096;
/// Longest rule text, in bytes.
pub const MAX_RULE_BYTES: usize = 64 * 1024;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Clone, Debug, PartialEq)]
enum Expr {
    Column(usize),
    Num(f64),
    Text(String),
    Bool(bool),
    Cmp(Box<Expr>, Op, Box<Expr>),
    /// n-ary, so a long chain of `and`s is one level deep, not one level per term.
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
}

/// The static type of an expression.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ty {
    Number,
    Text,
    Bool,
    Date,
    Timestamp,
}

impl Ty {
    fn of(c: ColumnType) -> Ty {
        match c {
            ColumnType::String => Ty::Text,
            ColumnType::Int64 | ColumnType::Float64 => Ty::Number,
            ColumnType::Bool => Ty::Bool,
            ColumnType::Date => Ty::Date,
            ColumnType::Timestamp => Ty::Timestamp,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Ty::Number => "a number",
            Ty::Text => "a string",
            Ty::Bool => "a condition (true/false)",
            Ty::Date => "a date",
            Ty::Timestamp => "a timestamp",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct RowRule {
    expr: Expr,
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Ident(String),
    Num(f64),
    Text(String),
    Op(Op),
    Open,
    Close,
}

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            _ if c.is_whitespace() => i += 1,
            '(' => {
                out.push(Token::Open);
                i += 1
            }
            ')' => {
                out.push(Token::Close);
                i += 1
            }
            '=' | '!' | '<' | '>' => {
                let next = chars.get(i + 1).copied();
                let (op, len) = match (c, next) {
                    ('=', Some('=')) => (Op::Eq, 2),
                    ('=', _) => (Op::Eq, 1),
                    ('!', Some('=')) => (Op::Ne, 2),
                    ('<', Some('>')) => (Op::Ne, 2),
                    ('<', Some('=')) => (Op::Le, 2),
                    ('<', _) => (Op::Lt, 1),
                    ('>', Some('=')) => (Op::Ge, 2),
                    ('>', _) => (Op::Gt, 1),
                    _ => return Err(format!("unexpected {c:?} at position {i}")),
                };
                out.push(Token::Op(op));
                i += len;
            }
            '\'' => {
                let start = i + 1;
                let end = chars[start..]
                    .iter()
                    .position(|&c| c == '\'')
                    .ok_or_else(|| format!("unterminated string at position {i}"))?;
                out.push(Token::Text(chars[start..start + end].iter().collect()));
                i = start + end + 1;
            }
            _ if c.is_ascii_digit() || c == '-' || c == '.' => {
                let start = i;
                i += 1;
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                    i += 1;
                }
                let s: String = chars[start..i].iter().collect();
                out.push(Token::Num(s.parse().map_err(|_| format!("bad number {s:?}"))?));
            }
            _ if c.is_alphabetic() || c == '_' => {
                let start = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                out.push(Token::Ident(chars[start..i].iter().collect()));
            }
            _ => return Err(format!("unexpected {c:?} at position {i}")),
        }
    }
    Ok(out)
}

struct Parser<'a> {
    tokens: Vec<Token>,
    pos: usize,
    contract: &'a Contract,
    depth: usize,
    terms: usize,
}

impl Parser<'_> {
    fn peek_keyword(&self, kw: &str) -> bool {
        matches!(self.tokens.get(self.pos), Some(Token::Ident(s)) if s.eq_ignore_ascii_case(kw))
    }

    /// Entering one more level of nesting (a `not` or a parenthesis).
    fn descend(&mut self) -> Result<(), String> {
        self.depth += 1;
        if self.depth > MAX_RULE_DEPTH {
            return Err(format!("nested deeper than {MAX_RULE_DEPTH} levels (parentheses and 'not's)"));
        }
        Ok(())
    }

    fn condition(e: (Expr, Ty), keyword: &str) -> Result<Expr, String> {
        match e.1 {
            Ty::Bool => Ok(e.0),
            other => Err(format!("'{keyword}' needs conditions (true/false) on both sides, got {}", other.name())),
        }
    }

    fn chain(&mut self, keyword: &str, next: fn(&mut Self) -> Result<(Expr, Ty), String>) -> Result<(Expr, Ty), String> {
        let first = next(self)?;
        if !self.peek_keyword(keyword) {
            return Ok(first);
        }
        let mut terms = vec![Self::condition(first, keyword)?];
        while self.peek_keyword(keyword) {
            self.pos += 1;
            let e = next(self)?;
            terms.push(Self::condition(e, keyword)?);
        }
        Ok((if keyword == "or" { Expr::Or(terms) } else { Expr::And(terms) }, Ty::Bool))
    }

    fn expr(&mut self) -> Result<(Expr, Ty), String> {
        self.chain("or", Self::and)
    }

    fn and(&mut self) -> Result<(Expr, Ty), String> {
        self.chain("and", Self::not)
    }

    fn not(&mut self) -> Result<(Expr, Ty), String> {
        if self.peek_keyword("not") {
            self.pos += 1;
            self.descend()?;
            let inner = self.not()?;
            self.depth -= 1;
            return Ok((Expr::Not(Box::new(Self::condition(inner, "not")?)), Ty::Bool));
        }
        self.cmp()
    }

    fn cmp(&mut self) -> Result<(Expr, Ty), String> {
        let left = self.atom()?;
        if let Some(Token::Op(op)) = self.tokens.get(self.pos).cloned() {
            self.pos += 1;
            let right = self.atom()?;
            let (left_ty, right_ty) = (left.1, right.1);
            let (left, right) = (day_literal(left, right_ty)?, day_literal(right, left_ty)?);
            if left.1 != right.1 {
                return Err(format!(
                    "cannot compare {} ({}) with {} ({})",
                    left.1.name(),
                    self.describe(&left.0),
                    right.1.name(),
                    self.describe(&right.0)
                ));
            }
            return Ok((Expr::Cmp(Box::new(left.0), op, Box::new(right.0)), Ty::Bool));
        }
        Ok(left)
    }

    fn describe(&self, e: &Expr) -> String {
        match e {
            Expr::Column(i) => format!("column {:?}", self.contract.columns[*i].name),
            Expr::Num(n) => format!("{n}"),
            Expr::Text(t) => format!("'{t}'"),
            Expr::Bool(b) => format!("{b}"),
            _ => "an expression".into(),
        }
    }

    fn atom(&mut self) -> Result<(Expr, Ty), String> {
        let token = self.tokens.get(self.pos).cloned().ok_or("unexpected end of rule")?;
        self.pos += 1;
        if !matches!(token, Token::Open) {
            self.terms += 1;
            if self.terms > MAX_RULE_TERMS {
                return Err(format!("more than {MAX_RULE_TERMS} terms"));
            }
        }
        Ok(match token {
            Token::Num(n) => (Expr::Num(n), Ty::Number),
            Token::Text(s) => (Expr::Text(s), Ty::Text),
            Token::Ident(s) if s.eq_ignore_ascii_case("true") => (Expr::Bool(true), Ty::Bool),
            Token::Ident(s) if s.eq_ignore_ascii_case("false") => (Expr::Bool(false), Ty::Bool),
            Token::Ident(s) => {
                let i = self.contract.column_index(&s).ok_or_else(|| format!("unknown column {s:?}"))?;
                (Expr::Column(i), Ty::of(self.contract.columns[i].column_type))
            }
            Token::Open => {
                self.descend()?;
                let e = self.expr()?;
                if self.tokens.get(self.pos) != Some(&Token::Close) {
                    return Err("missing ')'".into());
                }
                self.pos += 1;
                self.depth -= 1;
                e
            }
            other => return Err(format!("unexpected {other:?}")),
        })
    }
}

/// A text literal compared with a date or timestamp is that day (or instant), in the
/// column's own units (days, microseconds since the epoch).
fn day_literal(e: (Expr, Ty), other: Ty) -> Result<(Expr, Ty), String> {
    let (Expr::Text(t), Ty::Text) = (&e.0, e.1) else {
        return Ok(e);
    };
    let value = match other {
        Ty::Date => parse_date(t).map(f64::from),
        Ty::Timestamp => parse_timestamp(t).map(|v| v as f64),
        _ => return Ok(e),
    };
    match value {
        Some(v) => Ok((Expr::Num(v), other)),
        None => Err(format!("'{t}' is not {} (YYYY-MM-DD[ HH:MM:SS])", other.name())),
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Value<'a> {
    Null,
    Bool(bool),
    Num(f64),
    Text(&'a str),
}

fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Num(x), Value::Num(y)) => x.partial_cmp(y),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        (Value::Text(x), Value::Text(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

impl RowRule {
    pub fn parse(text: &str, contract: &Contract) -> Result<RowRule, String> {
        if text.len() > MAX_RULE_BYTES {
            return Err(format!("the rule is {} bytes long, more than {MAX_RULE_BYTES}", text.len()));
        }
        let tokens = tokenize(text)?;
        let mut p = Parser { tokens, pos: 0, contract, depth: 0, terms: 0 };
        let (expr, ty) = p.expr()?;
        if p.pos != p.tokens.len() {
            return Err(format!("unexpected {:?} after the end of the rule", p.tokens[p.pos]));
        }
        if ty != Ty::Bool {
            return Err(format!("a rule must be a condition (true/false), this one is {}", ty.name()));
        }
        Ok(RowRule { expr })
    }

    /// The rows (offsets) where the rule is false. `columns` are the typed columns of the
    /// contract, in contract order.
    pub fn failing_rows(&self, columns: &[ArrayRef], rows: usize) -> Vec<u32> {
        (0..rows).filter(|&r| eval(&self.expr, columns, r) == Value::Bool(false)).map(|r| r as u32).collect()
    }
}

fn eval<'a>(e: &'a Expr, cols: &'a [ArrayRef], row: usize) -> Value<'a> {
    match e {
        Expr::Column(i) => cell(&cols[*i], row),
        Expr::Num(n) => Value::Num(*n),
        Expr::Text(s) => Value::Text(s),
        Expr::Bool(b) => Value::Bool(*b),
        Expr::Cmp(a, op, b) => {
            let (a, b) = (eval(a, cols, row), eval(b, cols, row));
            if a == Value::Null || b == Value::Null {
                return Value::Null;
            }
            match compare(&a, &b) {
                None => Value::Bool(false),
                Some(o) => Value::Bool(match op {
                    Op::Eq => o == Ordering::Equal,
                    Op::Ne => o != Ordering::Equal,
                    Op::Lt => o == Ordering::Less,
                    Op::Le => o != Ordering::Greater,
                    Op::Gt => o == Ordering::Greater,
                    Op::Ge => o != Ordering::Less,
                }),
            }
        }
        // Three-valued: false wins an `and` (true an `or`), else any unknown makes it unknown.
        Expr::And(terms) => {
            let mut unknown = false;
            for t in terms {
                match eval(t, cols, row) {
                    Value::Bool(false) => return Value::Bool(false),
                    Value::Bool(true) => {}
                    _ => unknown = true,
                }
            }
            if unknown { Value::Null } else { Value::Bool(true) }
        }
        Expr::Or(terms) => {
            let mut unknown = false;
            for t in terms {
                match eval(t, cols, row) {
                    Value::Bool(true) => return Value::Bool(true),
                    Value::Bool(false) => {}
                    _ => unknown = true,
                }
            }
            if unknown { Value::Null } else { Value::Bool(false) }
        }
        Expr::Not(a) => match eval(a, cols, row) {
            Value::Bool(b) => Value::Bool(!b),
            _ => Value::Null,
        },
    }
}

fn cell(a: &ArrayRef, row: usize) -> Value<'_> {
    if a.is_null(row) {
        return Value::Null;
    }
    match a.data_type() {
        DataType::Boolean => Value::Bool(a.as_boolean().value(row)),
        DataType::Int64 => Value::Num(a.as_primitive::<Int64Type>().value(row) as f64),
        DataType::Float64 => Value::Num(a.as_primitive::<Float64Type>().value(row)),
        DataType::Date32 => Value::Num(a.as_primitive::<Date32Type>().value(row) as f64),
        DataType::Timestamp(_, _) => Value::Num(a.as_primitive::<TimestampMicrosecondType>().value(row) as f64),
        DataType::Utf8 => Value::Text(a.as_string::<i32>().value(row)),
        _ => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{BooleanArray, Int64Array};
    use std::sync::Arc;

    fn contract() -> Contract {
        Contract::from_json(
            r#"{"dataset":"t","columns":[{"name":"pages_viewed","type":"int64"},{"name":"bounce","type":"bool"}]}"#,
        )
        .unwrap()
    }

    #[test]
    fn bounce_rule_flags_exactly_the_inconsistent_rows() {
        let c = contract();
        let rule = RowRule::parse("bounce = (pages_viewed = 1)", &c).unwrap();
        let cols: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(vec![Some(1), Some(1), Some(3), Some(3), None, Some(0)])),
            Arc::new(BooleanArray::from(vec![Some(true), Some(false), Some(false), Some(true), Some(true), Some(false)])),
        ];
        assert_eq!(rule.failing_rows(&cols, 6), vec![1, 3]);
        let r2 = RowRule::parse("pages_viewed >= 1 AND NOT (bounce = true and pages_viewed <> 1)", &c).unwrap();
        assert_eq!(r2.failing_rows(&cols, 6), vec![3, 5]);
    }

    #[test]
    fn bad_rules_are_explained() {
        let c = contract();
        assert!(RowRule::parse("bounce = (pages = 1)", &c).unwrap_err().contains("unknown column"));
        assert!(RowRule::parse("bounce = (pages_viewed = 1", &c).unwrap_err().contains("missing ')'"));
        assert!(RowRule::parse("bounce = ", &c).unwrap_err().contains("end of rule"));
        assert!(RowRule::parse("bounce $ 1", &c).unwrap_err().contains("unexpected"));
    }

    #[test]
    fn mistyped_rules_are_contract_errors() {
        let c = Contract::from_json(
            r#"{"dataset":"t","columns":[{"name":"n","type":"int64"},{"name":"s","type":"string"},
                {"name":"b","type":"bool"},{"name":"d","type":"date"},{"name":"t","type":"timestamp"}]}"#,
        )
        .unwrap();
        for (rule, expected) in [
            ("s = 5", "cannot compare a string (column \"s\") with a number (5)"),
            ("n = 'five'", "cannot compare a number"),
            ("b = 1", "cannot compare a condition"),
            ("d > t", "cannot compare a date"),
            ("d > 20000", "cannot compare a date"),
            ("d > 'yesterday'", "'yesterday' is not a date"),
            ("n", "must be a condition"),
            ("n and b", "'and' needs conditions"),
            ("b or s", "'or' needs conditions"),
            ("not n", "'not' needs conditions"),
        ] {
            let err = RowRule::parse(rule, &c).unwrap_err();
            assert!(err.contains(expected), "{rule}: {err}");
        }
        // Well-typed rules still parse, and a day literal is compared in the column's units.
        for rule in ["s = 'x' and n > 1.5", "b = (n = 1) or not b", "d >= '2025-01-01'", "t < '2025-01-01 12:00:00'"] {
            RowRule::parse(rule, &c).unwrap_or_else(|e| panic!("{rule}: {e}"));
        }
        let days: ArrayRef = Arc::new(arrow::array::Date32Array::from(vec![Some(20088), Some(20089), None]));
        let cols: Vec<ArrayRef> = vec![
            arrow::array::new_null_array(&DataType::Int64, 3),
            arrow::array::new_null_array(&DataType::Utf8, 3),
            arrow::array::new_null_array(&DataType::Boolean, 3),
            days,
            arrow::array::new_null_array(&DataType::Timestamp(arrow::datatypes::TimeUnit::Microsecond, None), 3),
        ];
        // 2025-01-01 is day 20089.
        assert_eq!(RowRule::parse("d >= '2025-01-01'", &c).unwrap().failing_rows(&cols, 3), vec![0]);
    }

    #[test]
    fn huge_rules_are_refused_not_a_stack_overflow() {
        let c = contract();
        let many_terms = vec!["pages_viewed=1"; 3000].join(" and ");
        assert!(RowRule::parse(&many_terms, &c).unwrap_err().contains("more than 4096 terms"));
        let many_ors = vec!["bounce"; 5000].join(" or ");
        assert!(RowRule::parse(&many_ors, &c).unwrap_err().contains("more than 4096 terms"));
        let attack = vec!["bounce"; 10_000].join(" or ");
        assert!(RowRule::parse(&attack, &c).unwrap_err().contains("bytes long"));
        let nots = format!("{}bounce", "not ".repeat(10_000));
        assert!(RowRule::parse(&nots, &c).unwrap_err().contains("nested deeper than 64"));
        let parens = format!("{}bounce{}", "(".repeat(20_000), ")".repeat(20_000));
        assert!(RowRule::parse(&parens, &c).unwrap_err().contains("nested deeper than 64"));
        assert!(RowRule::parse(&"x".repeat(100_000), &c).unwrap_err().contains("bytes long"));
        // Within the bounds: 64 levels and a chain of 1,000 comparisons parse and evaluate
        // (the chain is one level deep).
        let deep = format!("{}bounce{}", "(".repeat(64), ")".repeat(64));
        RowRule::parse(&deep, &c).unwrap();
        let long = vec!["pages_viewed>=0"; 1000].join(" and ");
        let rule = RowRule::parse(&long, &c).unwrap();
        let cols: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(vec![Some(1), Some(-1), None])),
            Arc::new(BooleanArray::from(vec![Some(true), Some(false), None])),
        ];
        assert_eq!(rule.failing_rows(&cols, 3), vec![1]);
    }
}
