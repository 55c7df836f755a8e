//! The tag of a container image reference, as the default pull policy needs
//! it: `Always` for `:latest` or no tag at all, `IfNotPresent` otherwise
//! (including references that do not parse, as upstream treats them).
//! The grammar is the kubelet's, `ordinal_core::image_reference`.

use ordinal_core::image_reference::Reference;

/// The default `imagePullPolicy` for an image reference.
pub fn default_pull_policy(image: &str) -> &'static str {
    if tag(image).as_deref() == Some("latest") {
        "Always"
    } else {
        "IfNotPresent"
    }
}

/// The reference's tag as upstream's `parsers.ParseImageName` gives it:
/// `Some("latest")` when it names neither a tag nor a digest, `Some("")`
/// with a digest and no tag, `None` when it does not parse as a reference.
fn tag(image: &str) -> Option<String> {
    let reference = Reference::parse(image).ok()?;
    Some(match (reference.tag(), reference.digest()) {
        (Some(t), _) => t.to_string(),
        (None, Some(_)) => String::new(),
        (None, None) => "latest".to_string(),
    })
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
