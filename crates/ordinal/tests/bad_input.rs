//! Untrusted input: every malformed or invalid request gets the Status code
//! and reason the real API server returns, and the server stays up.

mod common;

use common::Ordinal;
use http::Request;
use kube::client::Body;

struct Case {
    what: &'static str,
    method: &'static str,
    path: String,
    content_type: &'static str,
    accept: &'static str,
    body: Vec<u8>,
    code: u16,
    reason: &'static str,
}

fn case(
    what: &'static str,
    method: &'static str,
    path: &str,
    body: impl Into<Vec<u8>>,
    code: u16,
    reason: &'static str,
) -> Case {
    Case {
        what,
        method,
        path: path.to_string(),
        content_type: "application/json",
        accept: "application/json",
        body: body.into(),
        code,
        reason,
    }
}

async fn send(client: &kube::Client, c: &Case) -> (u16, serde_json::Value) {
    let request = Request::builder()
        .method(c.method)
        .uri(&c.path)
        .header("content-type", c.content_type)
        .header("accept", c.accept)
        .body(Body::from(c.body.clone()))
        .unwrap();
    let response = client.send(request).await.expect("transport ok");
    let code = response.status().as_u16();
    let bytes = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    let status = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    (code, status)
}

#[tokio::test]
async fn malformed_and_invalid_requests_get_their_status() {
    let o = Ordinal::start();
    let client = o.client().await;
    let cms = "/api/v1/namespaces/default/configmaps";
    let mut cases = vec![
        case(
            "malformed JSON",
            "POST",
            cms,
            "{\"metadata\": {\"name\": ",
            400,
            "BadRequest",
        ),
        case(
            "binary garbage",
            "POST",
            cms,
            vec![0xff, 0xfe, 0x00, 0x01],
            400,
            "BadRequest",
        ),
        case("not an object", "POST", cms, "[1,2,3]", 400, "BadRequest"),
        case(
            "kind does not match the URL",
            "POST",
            "/api/v1/namespaces/default/pods",
            r#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"x"}}"#,
            400,
            "BadRequest",
        ),
        case(
            "apiVersion does not match the URL",
            "POST",
            cms,
            r#"{"apiVersion":"apps/v1","kind":"ConfigMap","metadata":{"name":"x"}}"#,
            400,
            "BadRequest",
        ),
        case(
            "invalid name",
            "POST",
            cms,
            r#"{"metadata":{"name":"Bad_Name"}}"#,
            422,
            "Invalid",
        ),
        case("no name", "POST", cms, r#"{"metadata":{}}"#, 422, "Invalid"),
        case(
            "unknown field, strict",
            "POST",
            &format!("{cms}?fieldValidation=Strict"),
            r#"{"metadata":{"name":"strict"},"datta":{}}"#,
            400,
            "BadRequest",
        ),
        case(
            "duplicate field, strict",
            "POST",
            &format!("{cms}?fieldValidation=Strict"),
            r#"{"metadata":{"name":"dup","name":"dup2"}}"#,
            400,
            "BadRequest",
        ),
        case(
            "wrong type, strict",
            "POST",
            &format!("{cms}?fieldValidation=Strict"),
            r#"{"metadata":{"name":"typed"},"data":{"a":1}}"#,
            400,
            "BadRequest",
        ),
        case(
            "body over 3 MiB",
            "POST",
            cms,
            vec![b' '; 3 * 1024 * 1024 + 10],
            413,
            "RequestEntityTooLarge",
        ),
        case(
            "unknown resource",
            "GET",
            "/api/v1/namespaces/default/widgets",
            "",
            404,
            "NotFound",
        ),
        case(
            "missing namespace",
            "POST",
            "/api/v1/namespaces/nowhere/configmaps",
            r#"{"metadata":{"name":"x"}}"#,
            404,
            "NotFound",
        ),
        case(
            "missing object",
            "GET",
            &format!("{cms}/absent"),
            "",
            404,
            "NotFound",
        ),
        case(
            "bad label selector",
            "GET",
            &format!("{cms}?labelSelector=a%20in%20b"),
            "",
            400,
            "BadRequest",
        ),
        case(
            "unsupported field selector",
            "GET",
            &format!("{cms}?fieldSelector=spec.nodeName%3Dx"),
            "",
            400,
            "BadRequest",
        ),
        case(
            "bad resourceVersion",
            "GET",
            &format!("{cms}?resourceVersion=abc"),
            "",
            400,
            "BadRequest",
        ),
        case(
            "bad continue token",
            "GET",
            &format!("{cms}?limit=1&continue=garbage"),
            "",
            400,
            "BadRequest",
        ),
        case(
            "name differs from URL",
            "PUT",
            &format!("{cms}/a"),
            r#"{"metadata":{"name":"b"}}"#,
            400,
            "BadRequest",
        ),
        case(
            "verb not allowed",
            "POST",
            "/api/v1/namespaces/default/configmaps/x",
            "{}",
            405,
            "MethodNotAllowed",
        ),
        case(
            "protected namespace",
            "DELETE",
            "/api/v1/namespaces/default",
            "",
            403,
            "Forbidden",
        ),
        case(
            "bad delete options",
            "DELETE",
            &format!("{cms}/x"),
            "{\"propagationPolicy\":\"Sideways\"}",
            422,
            "Invalid",
        ),
    ];
    cases.push(Case {
        content_type: "text/plain",
        ..case(
            "unsupported media type",
            "POST",
            cms,
            "name: x",
            415,
            "UnsupportedMediaType",
        )
    });
    cases.push(Case {
        content_type: "application/yaml",
        ..case(
            "malformed YAML",
            "POST",
            cms,
            "metadata: [unclosed",
            400,
            "BadRequest",
        )
    });
    cases.push(Case {
        accept: "application/vnd.kubernetes.protobuf",
        ..case("unacceptable accept", "GET", cms, "", 406, "NotAcceptable")
    });

    let mut failures = Vec::new();
    for c in &cases {
        let (code, status) = send(&client, c).await;
        if code != c.code || status["reason"] != c.reason || status["kind"] != "Status" {
            failures.push(format!("{}: got {code} {}", c.what, status));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // After all of that the server still answers.
    let healthz = send(&client, &case("health", "GET", "/readyz", "", 200, "")).await;
    assert_eq!(healthz.0, 200);
}

#[tokio::test]
async fn requests_without_the_token_are_unauthorized() {
    let o = Ordinal::start();
    let kubeconfig = kube::config::Kubeconfig::read_from(o.kubeconfig()).unwrap();
    for token in [None, Some("wrong-token")] {
        let mut config =
            kube::Config::from_custom_kubeconfig(kubeconfig.clone(), &Default::default())
                .await
                .unwrap();
        config.auth_info = Default::default();
        config.auth_info.token = token.map(|t| t.to_string().into());
        let client = kube::Client::try_from(config).unwrap();
        let (code, status) = send(
            &client,
            &case(
                "no token",
                "GET",
                "/api/v1/namespaces",
                "",
                401,
                "Unauthorized",
            ),
        )
        .await;
        assert_eq!(code, 401);
        assert_eq!(status["reason"], "Unauthorized");
        // Health endpoints are open.
        let (code, _) = send(&client, &case("health", "GET", "/healthz", "", 200, "")).await;
        assert_eq!(code, 200);
    }
}
