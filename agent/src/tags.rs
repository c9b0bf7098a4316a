//! `--agent.tags`: process tags the agent adds to every span it forwards, parsed as Jaeger
//! parses them — `key=value` pairs separated by commas, where a value written
//! `${ENV_VAR:default}` takes the variable's value, or the default when the variable is
//! unset or empty, and an entry `${ENV_VAR}` (no default) is skipped when the variable is
//! unset or empty.

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid --agent.tags entry {entry:?}: {reason}")]
pub struct TagsError {
    pub entry: String,
    pub reason: &'static str,
}

/// Parses `--agent.tags` reading variables from the process environment.
pub fn parse(spec: &str) -> Result<Vec<(String, String)>, TagsError> {
    parse_with(spec, |name| std::env::var(name).ok())
}

/// Parses `--agent.tags` with `lookup` resolving environment variables (tests pass their own).
pub fn parse_with(
    spec: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Vec<(String, String)>, TagsError> {
    let mut tags = Vec::new();
    if spec.trim().is_empty() {
        return Ok(tags);
    }
    for entry in spec.split(',') {
        let err = |reason| TagsError {
            entry: entry.to_string(),
            reason,
        };
        // Jaeger indexes past the end on an entry without `=` and crashes; here it is a
        // start-up error the operator can read.
        let (key, value) = entry
            .split_once('=')
            .ok_or_else(|| err("expected key=value"))?;
        let key = key.trim();
        if key.is_empty() {
            return Err(err("empty key"));
        }
        let value = value.trim();
        let value = match value.strip_prefix("${").and_then(|v| v.strip_suffix('}')) {
            None => value.to_string(),
            Some(reference) => {
                let (var, default) = match reference.split_once(':') {
                    Some((var, default)) => (var, Some(default)),
                    None => (reference, None),
                };
                let found = lookup(var).filter(|v| !v.is_empty());
                match (found, default) {
                    (Some(v), _) => v,
                    (None, Some(d)) => d.to_string(),
                    (None, None) => continue,
                }
            }
        };
        tags.push((key.to_string(), value));
    }
    Ok(tags)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "NODE" => Some("node-7".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn plain_and_expanded_values() {
        let tags = parse_with(
            " zone = a ,host=${NODE:none},rack=${MISSING:r1},e=${EMPTY:fallback}",
            env,
        )
        .unwrap();
        assert_eq!(
            tags,
            vec![
                ("zone".into(), "a".into()),
                ("host".into(), "node-7".into()),
                ("rack".into(), "r1".into()),
                ("e".into(), "fallback".into()),
            ]
        );
    }

    #[test]
    fn reference_without_default_is_skipped_when_unset() {
        let tags = parse_with("a=${MISSING},b=${NODE},c=${MISSING:}", env).unwrap();
        assert_eq!(
            tags,
            vec![("b".into(), "node-7".into()), ("c".into(), String::new())]
        );
    }

    #[test]
    fn empty_spec_and_bad_entries() {
        assert!(parse_with("", env).unwrap().is_empty());
        assert!(parse_with("novalue", env).is_err());
        assert!(parse_with("=v", env).is_err());
        assert!(parse_with("a=1,", env).is_err());
    }
}
