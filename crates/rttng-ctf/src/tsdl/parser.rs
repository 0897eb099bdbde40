//! TSDL parser: tokens to the syntax tree of [`super::ast`].
//!
//! A hand-written recursive descent over the subset of C declarations TSDL uses. Nesting is
//! bounded by [`super::MAX_NESTING_DEPTH`], so hostile input cannot overflow the stack. It does
//! not look names up or check attribute values: that is the lowering pass's job.

use super::ast::*;
use super::lexer::{Tok, Token};
use super::{MetadataError, MetadataErrorKind, MAX_NESTING_DEPTH};

/// Words that start a compound type specifier and so never belong to a type name.
const SPEC_KEYWORDS: [&str; 6] = [
    "integer",
    "floating_point",
    "string",
    "enum",
    "struct",
    "variant",
];

/// Words of C type names that carry no meaning for TSDL and are skipped.
const IGNORED_QUALIFIERS: [&str; 1] = ["const"];

pub(crate) struct Parser<'t> {
    tokens: &'t [Token],
    pos: usize,
    depth: usize,
}

pub(crate) fn parse(tokens: &[Token]) -> Result<Vec<TopLevel>, MetadataError> {
    let mut p = Parser {
        tokens,
        pos: 0,
        depth: 0,
    };
    let mut out = Vec::new();
    while p.pos < p.tokens.len() {
        out.push(p.top_level()?);
    }
    Ok(out)
}

impl<'t> Parser<'t> {
    fn peek(&self) -> Option<&'t Tok> {
        self.tokens.get(self.pos).map(|t| &t.tok)
    }

    fn peek_at(&self, ahead: usize) -> Option<&'t Tok> {
        self.tokens.get(self.pos + ahead).map(|t| &t.tok)
    }

    fn peek_ident(&self) -> Option<&'t str> {
        match self.peek() {
            Some(Tok::Ident(s)) => Some(s.as_str()),
            _ => None,
        }
    }

    /// Line of the current token (or of the last one at the end of the text).
    fn line(&self) -> u32 {
        self.tokens
            .get(self.pos)
            .or_else(|| self.tokens.last())
            .map_or(1, |t| t.line)
    }

    fn unexpected(&self, expected: &'static str) -> MetadataError {
        let kind = match self.peek() {
            Some(tok) => MetadataErrorKind::UnexpectedToken {
                found: tok.describe(),
                expected,
            },
            None => MetadataErrorKind::UnexpectedEnd { expected },
        };
        MetadataError {
            line: self.line(),
            kind,
        }
    }

    fn eat(&mut self, tok: &Tok) -> bool {
        if self.peek() == Some(tok) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, tok: &Tok, expected: &'static str) -> Result<(), MetadataError> {
        if self.eat(tok) {
            Ok(())
        } else {
            Err(self.unexpected(expected))
        }
    }

    fn ident(&mut self, expected: &'static str) -> Result<String, MetadataError> {
        match self.peek() {
            Some(Tok::Ident(s)) => {
                self.pos += 1;
                Ok(s.clone())
            }
            _ => Err(self.unexpected(expected)),
        }
    }

    fn enter(&mut self) -> Result<(), MetadataError> {
        self.depth += 1;
        if self.depth > MAX_NESTING_DEPTH {
            return Err(MetadataError {
                line: self.line(),
                kind: MetadataErrorKind::TooDeep {
                    limit: MAX_NESTING_DEPTH,
                },
            });
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    fn top_level(&mut self) -> Result<TopLevel, MetadataError> {
        let line = self.line();
        let kind = match self.peek_ident() {
            Some("trace") => Some(BlockKind::Trace),
            Some("stream") => Some(BlockKind::Stream),
            Some("event") => Some(BlockKind::Event),
            Some("clock") => Some(BlockKind::Clock),
            Some("env") => Some(BlockKind::Env),
            Some("callsite") => Some(BlockKind::Callsite),
            _ => None,
        };
        match kind {
            Some(kind) if self.peek_at(1) == Some(&Tok::LBrace) => {
                self.pos += 2;
                let mut entries = Vec::new();
                while !self.eat(&Tok::RBrace) {
                    if self.peek().is_none() {
                        return Err(self.unexpected("`}`"));
                    }
                    entries.push(self.block_entry()?);
                }
                let end_line = self
                    .tokens
                    .get(self.pos.saturating_sub(1))
                    .map_or(line, |t| t.line);
                self.expect(&Tok::Semi, "`;` after a block")?;
                Ok(TopLevel::Block {
                    kind,
                    entries,
                    line,
                    end_line,
                })
            }
            _ => Ok(TopLevel::Decl(self.type_decl()?)),
        }
    }

    /// Is the current position `word(.word)* =` or `word(.word)* :=`?
    fn at_attribute(&self) -> bool {
        let mut i = 0;
        loop {
            if !matches!(self.peek_at(i), Some(Tok::Ident(_))) {
                return false;
            }
            match self.peek_at(i + 1) {
                Some(Tok::Dot) => i += 2,
                Some(Tok::Eq) | Some(Tok::TypeAssign) => return true,
                _ => return false,
            }
        }
    }

    fn block_entry(&mut self) -> Result<BlockEntry, MetadataError> {
        if self.at_attribute() {
            Ok(BlockEntry::Attr(self.attribute()?))
        } else {
            Ok(BlockEntry::Decl(self.type_decl()?))
        }
    }

    fn dotted(&mut self, expected: &'static str) -> Result<String, MetadataError> {
        let mut path = self.ident(expected)?;
        while self.peek() == Some(&Tok::Dot) {
            self.pos += 1;
            path.push('.');
            path.push_str(&self.ident("a name after `.`")?);
        }
        Ok(path)
    }

    /// `key = value;` or `key := type;`
    fn attribute(&mut self) -> Result<Attr, MetadataError> {
        let line = self.line();
        let key = self.dotted("an attribute name")?;
        let value = if self.eat(&Tok::TypeAssign) {
            let ty = self.type_spec()?;
            AttrValue::Type(ty)
        } else {
            self.expect(&Tok::Eq, "`=` or `:=`")?;
            AttrValue::Value(self.value()?)
        };
        self.expect(&Tok::Semi, "`;` after an attribute")?;
        Ok(Attr { key, value, line })
    }

    fn value(&mut self) -> Result<Value, MetadataError> {
        match self.peek() {
            Some(Tok::Minus) => {
                self.pos += 1;
                match self.peek() {
                    Some(&Tok::Int(v)) => {
                        self.pos += 1;
                        Ok(Value::Int(-i128::from(v)))
                    }
                    _ => Err(self.unexpected("an integer after `-`")),
                }
            }
            Some(Tok::Plus) => {
                self.pos += 1;
                match self.peek() {
                    Some(&Tok::Int(v)) => {
                        self.pos += 1;
                        Ok(Value::Int(i128::from(v)))
                    }
                    _ => Err(self.unexpected("an integer after `+`")),
                }
            }
            Some(&Tok::Int(v)) => {
                self.pos += 1;
                Ok(Value::Int(i128::from(v)))
            }
            Some(Tok::Str(s)) => {
                self.pos += 1;
                Ok(Value::Str(s.clone()))
            }
            Some(Tok::Ident(_)) => Ok(Value::Path(self.dotted("a value")?)),
            _ => Err(self.unexpected("a value")),
        }
    }

    /// `{ key = value; ... }` of `integer`, `floating_point`, `string`.
    fn attr_body(&mut self) -> Result<Vec<Attr>, MetadataError> {
        self.expect(&Tok::LBrace, "`{`")?;
        let mut attrs = Vec::new();
        while !self.eat(&Tok::RBrace) {
            attrs.push(self.attribute()?);
        }
        Ok(attrs)
    }

    fn type_spec(&mut self) -> Result<TypeRef, MetadataError> {
        self.enter()?;
        let r = self.type_spec_inner();
        self.leave();
        r
    }

    fn type_spec_inner(&mut self) -> Result<TypeRef, MetadataError> {
        let line = self.line();
        let word = self.peek_ident().ok_or_else(|| self.unexpected("a type"))?;
        let spec = match word {
            "integer" => {
                self.pos += 1;
                TypeSpec::Integer(self.attr_body()?)
            }
            "floating_point" => {
                self.pos += 1;
                TypeSpec::Float(self.attr_body()?)
            }
            "string" => {
                self.pos += 1;
                let attrs = if self.peek() == Some(&Tok::LBrace) {
                    self.attr_body()?
                } else {
                    Vec::new()
                };
                TypeSpec::String(attrs)
            }
            "enum" => {
                self.pos += 1;
                let name = match self.peek() {
                    Some(Tok::Ident(n)) => {
                        self.pos += 1;
                        Some(n.clone())
                    }
                    _ => None,
                };
                let container = if self.eat(&Tok::Colon) {
                    Some(Box::new(self.type_spec()?))
                } else {
                    None
                };
                let body = if self.peek() == Some(&Tok::LBrace) {
                    Some(self.enum_body()?)
                } else {
                    None
                };
                if name.is_none() && body.is_none() {
                    return Err(self.unexpected("an enum name or body"));
                }
                TypeSpec::Enum {
                    name,
                    container,
                    body,
                }
            }
            "struct" => {
                self.pos += 1;
                let name = match self.peek() {
                    Some(Tok::Ident(n))
                        if n != "align" || self.peek_at(1) != Some(&Tok::LParen) =>
                    {
                        self.pos += 1;
                        Some(n.clone())
                    }
                    _ => None,
                };
                let body = if self.peek() == Some(&Tok::LBrace) {
                    Some(self.entry_body()?)
                } else {
                    None
                };
                if name.is_none() && body.is_none() {
                    return Err(self.unexpected("a struct name or body"));
                }
                let align = if self.peek_ident() == Some("align")
                    && self.peek_at(1) == Some(&Tok::LParen)
                {
                    self.pos += 2;
                    let v = self.value()?;
                    self.expect(&Tok::RParen, "`)`")?;
                    Some(v)
                } else {
                    None
                };
                TypeSpec::Struct { name, body, align }
            }
            "variant" => {
                self.pos += 1;
                let name = match self.peek() {
                    Some(Tok::Ident(n)) => {
                        self.pos += 1;
                        Some(n.clone())
                    }
                    _ => None,
                };
                let tag = if self.eat(&Tok::Lt) {
                    let t = self.dotted("a tag name")?;
                    self.expect(&Tok::Gt, "`>`")?;
                    Some(t)
                } else {
                    None
                };
                let body = if self.peek() == Some(&Tok::LBrace) {
                    Some(self.entry_body()?)
                } else {
                    None
                };
                if name.is_none() && body.is_none() {
                    return Err(self.unexpected("a variant name or body"));
                }
                TypeSpec::Variant { name, tag, body }
            }
            _ => {
                let mut words = Vec::new();
                while let Some(w) = self.peek_ident() {
                    if SPEC_KEYWORDS.contains(&w) {
                        break;
                    }
                    self.pos += 1;
                    if !IGNORED_QUALIFIERS.contains(&w) {
                        words.push(w.to_string());
                    }
                }
                if words.is_empty() {
                    return Err(self.unexpected("a type"));
                }
                TypeSpec::Named(words)
            }
        };
        Ok(TypeRef { spec, line })
    }

    fn enum_body(&mut self) -> Result<Vec<Enumerator>, MetadataError> {
        self.expect(&Tok::LBrace, "`{`")?;
        let mut out = Vec::new();
        loop {
            if self.eat(&Tok::RBrace) {
                break;
            }
            let line = self.line();
            let label = match self.peek() {
                Some(Tok::Ident(s)) | Some(Tok::Str(s)) => {
                    self.pos += 1;
                    s.clone()
                }
                _ => return Err(self.unexpected("an enum label")),
            };
            let values = if self.eat(&Tok::Eq) {
                let lo = self.value()?;
                let hi = if self.eat(&Tok::Ellipsis) {
                    Some(self.value()?)
                } else {
                    None
                };
                Some((lo, hi))
            } else {
                None
            };
            out.push(Enumerator {
                label,
                values,
                line,
            });
            if !self.eat(&Tok::Comma) {
                self.expect(&Tok::RBrace, "`,` or `}` in an enum")?;
                break;
            }
        }
        Ok(out)
    }

    /// `{ entries }` of a struct or variant.
    fn entry_body(&mut self) -> Result<Vec<Entry>, MetadataError> {
        self.expect(&Tok::LBrace, "`{`")?;
        let mut out = Vec::new();
        while !self.eat(&Tok::RBrace) {
            if self.peek().is_none() {
                return Err(self.unexpected("`}`"));
            }
            match self.peek_ident() {
                Some("typealias") | Some("typedef") => out.push(Entry::Decl(self.type_decl()?)),
                _ => out.push(self.field_or_decl()?),
            }
        }
        Ok(out)
    }

    /// A field declaration `TYPE a, b[3];`, or a bare `struct name {...};`.
    fn field_or_decl(&mut self) -> Result<Entry, MetadataError> {
        let mut ty = self.type_spec()?;
        let decls = self.declarators(&mut ty)?;
        self.expect(&Tok::Semi, "`;` after a declaration")?;
        if decls.is_empty() {
            Ok(Entry::Decl(TypeDecl::Bare(ty)))
        } else {
            Ok(Entry::Field { ty, decls })
        }
    }

    /// Declarators up to (not including) `;`. For a named type the last word of the name run is
    /// the first declarator's name (`uint32_t magic` → type `uint32_t`, field `magic`).
    fn declarators(&mut self, ty: &mut TypeRef) -> Result<Vec<Declarator>, MetadataError> {
        let mut decls = Vec::new();
        if self.peek() == Some(&Tok::Semi) {
            if let TypeSpec::Named(words) = &mut ty.spec {
                if words.len() >= 2 {
                    let name = words.pop();
                    decls.push(Declarator {
                        pointers: 0,
                        name,
                        dims: Vec::new(),
                        line: self.line(),
                    });
                }
            }
            return Ok(decls);
        }
        if let TypeSpec::Named(words) = &mut ty.spec {
            if words.len() >= 2 && matches!(self.peek(), Some(Tok::LBracket) | Some(Tok::Comma)) {
                let name = words.pop();
                let line = self.line();
                let dims = self.dims()?;
                decls.push(Declarator {
                    pointers: 0,
                    name,
                    dims,
                    line,
                });
                if !self.eat(&Tok::Comma) {
                    return Ok(decls);
                }
            }
        }
        loop {
            decls.push(self.declarator()?);
            if !self.eat(&Tok::Comma) {
                return Ok(decls);
            }
        }
    }

    fn declarator(&mut self) -> Result<Declarator, MetadataError> {
        let line = self.line();
        let mut pointers = 0u32;
        while self.eat(&Tok::Star) {
            pointers = pointers.saturating_add(1);
        }
        let name = Some(self.ident("a field name")?);
        let dims = self.dims()?;
        Ok(Declarator {
            pointers,
            name,
            dims,
            line,
        })
    }

    fn dims(&mut self) -> Result<Vec<Dim>, MetadataError> {
        let mut dims = Vec::new();
        while self.eat(&Tok::LBracket) {
            let dim = match self.peek() {
                Some(&Tok::Int(n)) => {
                    self.pos += 1;
                    Dim::Len(n)
                }
                Some(Tok::Ident(_)) => Dim::Ref(self.dotted("a length")?),
                _ => return Err(self.unexpected("an array length")),
            };
            self.expect(&Tok::RBracket, "`]`")?;
            dims.push(dim);
            if dims.len() > MAX_NESTING_DEPTH {
                return Err(MetadataError {
                    line: self.line(),
                    kind: MetadataErrorKind::TooDeep {
                        limit: MAX_NESTING_DEPTH,
                    },
                });
            }
        }
        Ok(dims)
    }

    fn type_decl(&mut self) -> Result<TypeDecl, MetadataError> {
        let line = self.line();
        match self.peek_ident() {
            Some("typealias") => {
                self.pos += 1;
                let target = self.type_spec()?;
                self.expect(&Tok::TypeAssign, "`:=` in a typealias")?;
                let mut words = Vec::new();
                while let Some(w) = self.peek_ident() {
                    self.pos += 1;
                    words.push(w.to_string());
                }
                if words.is_empty() {
                    return Err(self.unexpected("a type name after `:=`"));
                }
                let mut pointers = 0u32;
                while self.eat(&Tok::Star) {
                    pointers = pointers.saturating_add(1);
                }
                self.expect(&Tok::Semi, "`;` after a typealias")?;
                Ok(TypeDecl::Alias {
                    target,
                    name: type_name_key(&words, pointers),
                    line,
                })
            }
            Some("typedef") => {
                self.pos += 1;
                let mut ty = self.type_spec()?;
                let decls = self.declarators(&mut ty)?;
                if decls.is_empty() {
                    return Err(self.unexpected("a name in a typedef"));
                }
                self.expect(&Tok::Semi, "`;` after a typedef")?;
                Ok(TypeDecl::Typedef { ty, decls })
            }
            Some(_) => {
                let ty = self.type_spec()?;
                self.expect(&Tok::Semi, "`;` after a type declaration")?;
                Ok(TypeDecl::Bare(ty))
            }
            None => Err(self.unexpected("a declaration")),
        }
    }
}
