//! JSON-RPC parameters: named (an object) or positional (an array), with strict checking.
//!
//! Owns: turning `params` into typed values with clear `invalid params` errors naming the parameter,
//! and refusing parameters a method does not know. Must never: guess — a wrong type is an error.

use enigma_protocol::api::{ApiError, ErrorCode};
use enigma_protocol::keys::DataKey;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value as Json};

/// Parameters of one call.
pub struct Params {
    method: String,
    map: Map<String, Json>,
}

fn invalid(method: &str, msg: String) -> ApiError {
    ApiError::new(ErrorCode::InvalidParams, format!("invalid params for {method}: {msg}"))
}

impl Params {
    /// Reads `params`: an object is taken as named; an array is mapped onto `names` in order. When
    /// `variadic` is set, a positional array is the whole list for that one name (e.g. `keys`).
    pub fn parse(
        method: &str,
        params: Option<Json>,
        names: &[&str],
        variadic: Option<&str>,
    ) -> Result<Params, ApiError> {
        let map = match params {
            None | Some(Json::Null) => Map::new(),
            Some(Json::Object(m)) => m,
            Some(Json::Array(items)) => match variadic {
                Some(name) => {
                    let mut m = Map::new();
                    m.insert(name.to_string(), Json::Array(items));
                    m
                }
                None => {
                    if items.len() > names.len() {
                        return Err(invalid(
                            method,
                            format!("takes at most {} positional parameters, got {}", names.len(), items.len()),
                        ));
                    }
                    names.iter().map(|n| n.to_string()).zip(items).collect()
                }
            },
            Some(other) => {
                return Err(invalid(method, format!("params must be an object or an array, got {other}")));
            }
        };
        Ok(Params { method: method.to_string(), map })
    }

    /// A required parameter.
    pub fn required<T: DeserializeOwned>(&mut self, name: &str) -> Result<T, ApiError> {
        let v = self.map.remove(name).ok_or_else(|| invalid(&self.method, format!("missing parameter {name:?}")))?;
        serde_json::from_value(v).map_err(|e| invalid(&self.method, format!("parameter {name:?}: {e}")))
    }

    /// An optional parameter (absent or null → None).
    pub fn optional<T: DeserializeOwned>(&mut self, name: &str) -> Result<Option<T>, ApiError> {
        match self.map.remove(name) {
            None | Some(Json::Null) => Ok(None),
            Some(v) => serde_json::from_value(v)
                .map(Some)
                .map_err(|e| invalid(&self.method, format!("parameter {name:?}: {e}"))),
        }
    }

    /// The raw JSON of a required parameter.
    pub fn raw(&mut self, name: &str) -> Result<Json, ApiError> {
        self.map.remove(name).ok_or_else(|| invalid(&self.method, format!("missing parameter {name:?}")))
    }

    /// A required data key.
    pub fn key(&mut self, name: &str) -> Result<DataKey, ApiError> {
        let s: String = self.required(name)?;
        s.parse().map_err(|e: enigma_protocol::keys::KeyParseError| invalid(&self.method, e.to_string()))
    }

    /// An optional list of data keys.
    pub fn optional_keys(&mut self, name: &str) -> Result<Option<Vec<DataKey>>, ApiError> {
        let Some(list) = self.optional::<Vec<String>>(name)? else { return Ok(None) };
        list.iter()
            .map(|s| s.parse().map_err(|e: enigma_protocol::keys::KeyParseError| invalid(&self.method, e.to_string())))
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    /// A required non-empty list of data keys.
    pub fn keys(&mut self, name: &str) -> Result<Vec<DataKey>, ApiError> {
        let list =
            self.optional_keys(name)?.ok_or_else(|| invalid(&self.method, format!("missing parameter {name:?}")))?;
        if list.is_empty() {
            return Err(invalid(&self.method, format!("{name:?} needs at least one key")));
        }
        Ok(list)
    }

    /// Refuses any parameter nobody asked for.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.map.is_empty() {
            return Ok(());
        }
        let names: Vec<&str> = self.map.keys().map(String::as_str).collect();
        Err(invalid(&self.method, format!("unknown parameter(s): {}", names.join(", "))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn named_positional_and_unknown() {
        let mut p = Params::parse("load", Some(json!({"key": "ab"})), &["key"], None).unwrap();
        assert_eq!(p.required::<String>("key").unwrap(), "ab");
        p.finish().unwrap();

        let mut p = Params::parse("load", Some(json!(["ab"])), &["key"], None).unwrap();
        assert_eq!(p.required::<String>("key").unwrap(), "ab");

        let p = Params::parse("load", Some(json!({"key": "ab", "kye": 1})), &["key"], None).unwrap();
        assert!(p.finish().is_err());
        assert!(Params::parse("load", Some(json!(["a", "b"])), &["key"], None).is_err());
        assert!(Params::parse("load", Some(json!(5)), &["key"], None).is_err());

        let mut p = Params::parse("load", Some(json!({"key": 5})), &["key"], None).unwrap();
        assert_eq!(p.required::<String>("key").unwrap_err().code, ErrorCode::InvalidParams);
        let mut p = Params::parse("load", Some(json!({"key": "zz"})), &["key"], None).unwrap();
        assert_eq!(p.key("key").unwrap_err().code, ErrorCode::InvalidParams);

        let mut p = Params::parse("stats.mean", Some(json!(["a", "b"])), &["keys"], Some("keys")).unwrap();
        assert_eq!(p.required::<Vec<String>>("keys").unwrap(), vec!["a", "b"]);
    }
}
