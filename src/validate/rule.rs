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

use std::cmp::Ordering;

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::{DataType, Date32Type, Float64Type, Int64Type, TimestampMicrosecondType};

use super::contract::Contract;

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
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
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
}

impl Parser<'_> {
    fn peek_keyword(&self, kw: &str) -> bool {
        matches!(self.tokens.get(self.pos), Some(Token::Ident(s)) if s.eq_ignore_ascii_case(kw))
    }

    fn expr(&mut self) -> Result<Expr, String> {
        let mut left = self.and()?;
        while self.peek_keyword("or") {
            self.pos += 1;
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut left = self.not()?;
        while self.peek_keyword("and") {
            self.pos += 1;
            left = Expr::And(Box::new(left), Box::new(self.not()?));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Expr, String> {
        if self.peek_keyword("not") {
            self.pos += 1;
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        self.cmp()
    }

    fn cmp(&mut self) -> Result<Expr, String> {
        let left = self.atom()?;
        if let Some(Token::Op(op)) = self.tokens.get(self.pos).cloned() {
            self.pos += 1;
            let right = self.atom()?;
            return Ok(Expr::Cmp(Box::new(left), op, Box::new(right)));
        }
        Ok(left)
    }

    fn atom(&mut self) -> Result<Expr, String> {
        let token = self.tokens.get(self.pos).cloned().ok_or("unexpected end of rule")?;
        self.pos += 1;
        Ok(match token {
            Token::Num(n) => Expr::Num(n),
            Token::Text(s) => Expr::Text(s),
            Token::Ident(s) if s.eq_ignore_ascii_case("true") => Expr::Bool(true),
            Token::Ident(s) if s.eq_ignore_ascii_case("false") => Expr::Bool(false),
            Token::Ident(s) => Expr::Column(
                self.contract.column_index(&s).ok_or_else(|| format!("unknown column {s:?}"))?,
            ),
            Token::Open => {
                let e = self.expr()?;
                if self.tokens.get(self.pos) != Some(&Token::Close) {
                    return Err("missing ')'".into());
                }
                self.pos += 1;
                e
            }
            other => return Err(format!("unexpected {other:?}")),
        })
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
        let tokens = tokenize(text)?;
        let mut p = Parser { tokens, pos: 0, contract };
        let expr = p.expr()?;
        if p.pos != p.tokens.len() {
            return Err(format!("unexpected {:?} after the end of the rule", p.tokens[p.pos]));
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
        Expr::And(a, b) => match (eval(a, cols, row), eval(b, cols, row)) {
            (Value::Bool(false), _) | (_, Value::Bool(false)) => Value::Bool(false),
            (Value::Bool(true), Value::Bool(true)) => Value::Bool(true),
            _ => Value::Null,
        },
        Expr::Or(a, b) => match (eval(a, cols, row), eval(b, cols, row)) {
            (Value::Bool(true), _) | (_, Value::Bool(true)) => Value::Bool(true),
            (Value::Bool(false), Value::Bool(false)) => Value::Bool(false),
            _ => Value::Null,
        },
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
}
