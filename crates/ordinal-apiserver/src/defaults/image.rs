//! The tag of a container image reference, as the default pull policy needs
//! it: `Always` for `:latest` or no tag at all, `IfNotPresent` otherwise
//! (including references that do not parse, as upstream treats them).

/// The default `imagePullPolicy` for an image reference.
pub fn default_pull_policy(image: &str) -> &'static str {
    if tag(image).as_deref() == Some("latest") {
        "Always"
    } else {
        "IfNotPresent"
    }
}

/// The reference's tag: `Some("latest")` when it names neither a tag nor a
/// digest, `Some("")` with a digest and no tag, `None` when it does not
/// parse as a reference.
fn tag(image: &str) -> Option<String> {
    if image.is_empty() || image.len() > 4096 {
        return None;
    }
    let (name_and_tag, digest) = match image.split_once('@') {
        Some((left, digest)) => (left, Some(digest)),
        None => (image, None),
    };
    if let Some(d) = digest
        && !valid_digest(d)
    {
        return None;
    }
    let (name, tag) = match name_and_tag.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => (name, Some(tag)),
        _ => (name_and_tag, None),
    };
    if let Some(t) = tag
        && !valid_tag(t)
    {
        return None;
    }
    if !valid_name(name) {
        return None;
    }
    Some(match (tag, digest) {
        (Some(t), _) => t.to_string(),
        (None, Some(_)) => String::new(),
        (None, None) => "latest".to_string(),
    })
}

/// `[\w][\w.-]{0,127}`
fn valid_tag(t: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut chars = t.chars();
    t.len() <= 128
        && chars.next().is_some_and(word)
        && chars.all(|c| word(c) || c == '.' || c == '-')
}

/// `algorithm:hex` with at least 32 hex digits.
fn valid_digest(d: &str) -> bool {
    let Some((algorithm, hex)) = d.split_once(':') else {
        return false;
    };
    let algorithm_ok = algorithm.split(['+', '.', '_', '-']).all(|part| {
        part.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && part.chars().all(|c| c.is_ascii_alphanumeric())
    });
    algorithm_ok && hex.len() >= 32 && hex.chars().all(|c| c.is_ascii_hexdigit())
}

/// `[domain/]path-component(/path-component)*`, lower case, at most 255
/// characters.
fn valid_name(name: &str) -> bool {
    if name.is_empty() || name.len() > 255 {
        return false;
    }
    let parts: Vec<&str> = name.split('/').collect();
    let (domain, path) = match parts.split_first() {
        Some((first, rest))
            if !rest.is_empty()
                && (first.contains('.') || first.contains(':') || *first == "localhost") =>
        {
            (Some(*first), rest)
        }
        _ => (None, parts.as_slice()),
    };
    if let Some(d) = domain
        && !valid_domain(d)
    {
        return false;
    }
    path.iter().all(|p| valid_path_component(p))
}

fn valid_domain(d: &str) -> bool {
    let (host, port) = match d.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || d.starts_with('[') => (h, Some(p)),
        _ => (d, None),
    };
    if let Some(p) = port
        && (p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return false;
    }
    if host.starts_with('[') {
        return host.ends_with(']') && host.len() > 2;
    }
    !host.is_empty()
        && host.split('.').all(|c| {
            let b = c.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter().all(|x| x.is_ascii_alphanumeric() || *x == b'-')
        })
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*`
fn valid_path_component(p: &str) -> bool {
    let b = p.as_bytes();
    let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &p[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|c| c == b'-');
        if !ok {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_policy_follows_the_tag() {
        for (image, policy) in [
            ("nginx", "Always"),
            ("nginx:latest", "Always"),
            ("docker.io/library/nginx", "Always"),
            ("localhost:5000/app", "Always"),
            ("localhost:5000/app:latest", "Always"),
            ("registry.k8s.io/nginx-slim:0.24", "IfNotPresent"),
            ("busybox:1.36", "IfNotPresent"),
            (
                "nginx@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                "IfNotPresent",
            ),
            ("", "IfNotPresent"),
            ("Nginx", "IfNotPresent"),
            (" nginx", "IfNotPresent"),
            ("nginx:", "IfNotPresent"),
            ("a//b", "IfNotPresent"),
        ] {
            assert_eq!(default_pull_policy(image), policy, "{image:?}");
        }
    }
}
