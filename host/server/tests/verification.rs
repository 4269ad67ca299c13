//! The public pages for whoever is shown a certificate, against
//! `tongban serve --demo`: the QR code on a certificate's page points to its
//! public status, which names the status and nothing about the holder; a
//! sealed copy the holder downloaded verifies on `/verify`, and an altered,
//! malformed, deeply nested or oversized one is refused as such, bounded
//! before it is read, while the server goes on serving.

mod page_client;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use page_client::{Browser, Demo, first_link, sign_in};

/// The text of the first element with `id="{id}"`.
fn text_of(body: &str, id: &str) -> String {
    let start = body
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in {body}"));
    let open_end = start + body[start..].find('>').unwrap() + 1;
    let mut depth = 0;
    let mut text = String::new();
    let mut in_tag = false;
    let mut tag = String::new();
    for c in body[open_end..].chars() {
        match c {
            '<' => {
                in_tag = true;
                tag.clear();
            }
            '>' if in_tag => {
                in_tag = false;
                if tag.starts_with('/') {
                    if depth == 0 {
                        break;
                    }
                    depth -= 1;
                } else if !tag.ends_with('/') {
                    depth += 1;
                }
            }
            _ if in_tag => tag.push(c),
            _ => text.push(c),
        }
    }
    text.trim().to_owned()
}

/// Scan the first inline SVG QR code on a page, as a phone's camera would:
/// draw its dark modules (the `qrcode` renderer's `M x y h w v h H x Z`
/// rectangles) onto a grey image and decode that with `rqrr`, a QR decoder
/// independent of the encoder.
fn scan_qr(page: &str) -> String {
    let svg_start = page.find("<svg").expect("an inline SVG");
    let svg = &page[svg_start..svg_start + page[svg_start..].find("</svg>").expect("a closed SVG")];
    let number = |name: &str| -> usize {
        let at = svg
            .find(&format!(" {name}=\""))
            .unwrap_or_else(|| panic!("no {name} on the SVG"))
            + name.len()
            + 3;
        svg[at..].split('"').next().unwrap().parse().unwrap()
    };
    let (width, height) = (number("width"), number("height"));
    // The renderer draws the light background first, then the dark modules.
    let path_at = svg.rfind(" d=\"").expect("the modules' path") + 4;
    let path = svg[path_at..].split('"').next().unwrap();
    let mut dark = vec![false; width * height];
    // Each rectangle: M{left} {top}h{w}v{h}H{left}Z.
    for rect in path.split('M').filter(|r| !r.is_empty()) {
        let numbers: Vec<usize> = rect
            .split(|c: char| !c.is_ascii_digit())
            .filter(|n| !n.is_empty())
            .map(|n| n.parse().unwrap())
            .collect();
        let (left, top, w, h) = (numbers[0], numbers[1], numbers[2], numbers[3]);
        for y in top..(top + h).min(height) {
            for x in left..(left + w).min(width) {
                dark[y * width + x] = true;
            }
        }
    }
    let mut image =
        rqrr::PreparedImage::prepare_from_greyscale(width, height, |x, y| if dark[y * width + x] { 0 } else { 255 });
    let grids = image.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code on the page");
    let (_, content) = grids[0].decode().expect("the QR code decodes");
    content
}

#[test]
fn the_qr_code_leads_to_the_status_and_sealed_copies_verify() {
    let demo = Demo::start();
    let server = &demo.server;
    let mut citizen = Browser::new(&server.url);
    sign_in(&mut citizen, "zhangsan");

    // The certificate's page: its QR code and the link it encodes.
    let wallet = citizen.get("/my/wallet");
    assert_eq!(wallet.status, 200, "{}", wallet.body);
    let certificate_path = first_link(&wallet.body, "/my/wallet/").expect("a certificate in the demo citizen's wallet");
    let certificate = citizen.get(&certificate_path);
    assert_eq!(certificate.status, 200, "{}", certificate.body);
    assert!(certificate.body.contains("<svg role=\"img\""), "{}", certificate.body);
    let check_url = text_of(&certificate.body, "check-url");
    assert_eq!(
        scan_qr(&certificate.body),
        check_url,
        "the QR code encodes the link shown beside it"
    );
    assert!(
        check_url.starts_with(&format!("{}/check/", server.url)),
        "{check_url} is not this server's status page"
    );

    // Anyone who follows it, signed in or not, sees the status and no
    // personal data.
    let mut verifier = Browser::new(&server.url);
    let status = verifier.get(check_url.trim_start_matches(&server.url));
    assert_eq!(status.status, 200, "{}", status.body);
    assert!(
        status.body.contains("data-status=\"valid\"") && status.body.contains("有效"),
        "{}",
        status.body
    );
    assert!(
        !status.body.contains("张三") && !status.body.contains("330106199003070014"),
        "{}",
        status.body
    );
    // An unknown or malformed id is refused on a page of its own that names
    // the refusal's code.
    let unknown = verifier.get("/check/no-such-certificate");
    assert!(matches!(unknown.status, 404 | 422), "{}", unknown.body);
    assert!(
        unknown.body.contains("<html")
            && (unknown.body.contains("<code>not_found</code>") || unknown.body.contains("<code>invalid</code>")),
        "{}",
        unknown.body
    );

    // The sealed copy the holder downloads verifies, with the status now.
    let copy = citizen.get(&format!("{certificate_path}/copy"));
    assert_eq!(copy.status, 200, "{}", copy.body);
    let verified = verifier.post_file("/verify", &[], "copy", "copy.sealed.json", copy.body.as_bytes());
    assert_eq!(verified.status, 200, "{}", verified.body);
    assert!(
        verified.body.contains("data-verdict=\"valid\"") && verified.body.contains("张三"),
        "{}",
        verified.body
    );

    // An altered copy is not valid, and says so.
    let altered = copy.body.replacen("张三", "李四", 1);
    assert_ne!(altered, copy.body);
    let refused = verifier.post_file("/verify", &[], "copy", "copy.sealed.json", altered.as_bytes());
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(
        refused.body.contains("data-verdict=\"invalid\"") && !refused.body.contains("data-verdict=\"valid\""),
        "{}",
        refused.body
    );

    // Hostile uploads: not JSON, nested past any parser's depth, none at all.
    for (what, bytes) in [
        ("not JSON", b"\x00\xff not a sealed copy".to_vec()),
        ("nested", "[".repeat(60_000).into_bytes()),
        ("empty", Vec::new()),
    ] {
        let page = verifier.post_file("/verify", &[], "copy", "copy.sealed.json", &bytes);
        assert_eq!(page.status, 422, "{what}: {}", page.body);
        assert!(page.body.contains("error-summary"), "{what}: {}", page.body);
    }

    // A copy over the bound is refused as too large, and the same client's
    // next request is answered on its connection as usual.
    let oversized = verifier.post_file("/verify", &[], "copy", "copy.sealed.json", &vec![b' '; 300 * 1024]);
    assert_eq!(oversized.status, 413, "{}", oversized.body);
    assert!(oversized.body.contains("64 KiB"), "{}", oversized.body);
    assert_eq!(verifier.get("/verify").status, 200);

    // An upload that declares far more than the bound is refused from its
    // headers alone, before its body is sent.
    let address = server.url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        stream,
        "POST /verify HTTP/1.1\r\nHost: {address}\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        64 * 1024 * 1024
    )
    .unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");

    // And the server goes on serving.
    assert_eq!(verifier.get(check_url.trim_start_matches(&server.url)).status, 200);
}
