"""Images through the real data plane: generations, edits and variations with the official SDK,
URL and base64 replies whatever the upstream gives, exact charges per image and per token, 402,
413 and 400s. Billing tests run on both databases; protocol-only tests on SQLite."""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import openai
import pytest

from dataplane.image_files import ImageFiles
from shared import accounts
from shared.models import UsageRecord
from shared.settings import Settings
from tests.dataplane.helpers import Customer, Shop, balance, charges, usage_for
from tests.support.fake_images import GPT_IMAGE_USAGE, FakeImages, ImageReply, png
from tests.support.servers import ServerThread

DALLE = "acme/dall-e-3"
GPT_IMAGE = "acme/gpt-image-1"
IMAGE_PRICE = 40_000_000  # $0.04 per image
HD_PRICE = 80_000_000  # $0.08 per 1024x1024 hd image
GPT_INPUT_PRICE = 5_000_000_000  # $5 per 1M tokens: 5,000 nano-USD per token
GPT_OUTPUT_PRICE = 40_000_000_000  # $40 per 1M tokens: 40,000 nano-USD per token
BOTH_DATABASES = pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)


@pytest.fixture(params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    """SQLite unless a test asks for both (see the module docstring)."""
    return request.param


@pytest.fixture(scope="module")
def images_server() -> Iterator[FakeImages]:
    fake = FakeImages()
    server = ServerThread(fake.app(), log_level="critical", graceful_s=1.0).start()
    fake.url = server.url
    yield fake
    server.stop()


@pytest.fixture
def fake(images_server: FakeImages) -> Iterator[FakeImages]:
    images_server.reset()
    yield images_server
    images_server.reset()


@pytest.fixture
def pictures(shop: Shop, fake: FakeImages) -> Shop:
    """A DALL·E model priced per image and a GPT image model priced per token, on the fake."""
    shop.provider("pix", fake.url)
    prices = {"image": IMAGE_PRICE, "image:1024x1024:hd": HD_PRICE}
    shop.model(
        DALLE,
        "pix",
        upstream_model="dall-e-3",
        modality="image",
        input_price=0,
        output_price=0,
        meters=prices,
    )
    shop.model(
        GPT_IMAGE,
        "pix",
        upstream_model="gpt-image-1",
        modality="image",
        input_price=GPT_INPUT_PRICE,
        output_price=GPT_OUTPUT_PRICE,
    )
    return shop


@pytest.fixture
def bob(pictures: Shop) -> Customer:
    """A customer with $10."""
    return pictures.customer(10_000_000_000)


@pytest.fixture
def gateway(pictures: Shop, bob: Customer, start_gateway: Callable[..., ServerThread]) -> ServerThread:
    return start_gateway()


@pytest.fixture
def pngs(tmp_path: Path) -> dict[str, Path]:
    """Two small real PNG files: an image and a mask."""
    paths = {"image": tmp_path / "image.png", "mask": tmp_path / "mask.png"}
    paths["image"].write_bytes(png(10, 20, 30))
    paths["mask"].write_bytes(png(0, 0, 0))
    return paths


def _only(fake: FakeImages) -> object:
    [received] = fake.requests
    return received


# Generations: the format asked for, whatever the upstream answers in.


def test_url_asked_of_a_base64_model_is_a_url_serving_the_image(
    gateway: ServerThread, bob: Customer, fake: FakeImages
) -> None:
    fake.default = ImageReply(form="b64", usage=GPT_IMAGE_USAGE)

    result = bob.client(gateway.url).images.generate(
        model=GPT_IMAGE, prompt="a red fox", response_format="url"
    )

    [image] = result.data
    assert image.b64_json is None
    assert image.url is not None and image.url.startswith(f"{gateway.url}/v1/images/files/")
    served = httpx.get(image.url)  # no API key: the URL is the permission
    assert served.status_code == 200
    assert served.headers["content-type"] == "image/png"
    assert served.content == fake.made[0]
    sent = fake.requests[0].body
    assert sent["model"] == "gpt-image-1" and sent["prompt"] == "a red fox"
    assert "response_format" not in sent  # GPT image models refuse it


def test_base64_asked_of_a_url_model_is_the_fetched_image(
    gateway: ServerThread, bob: Customer, fake: FakeImages
) -> None:
    fake.default = ImageReply(form="url")

    result = bob.client(gateway.url).images.generate(
        model=DALLE, prompt="a lighthouse", n=2, response_format="b64_json"
    )

    assert [base64.b64decode(item.b64_json or "") for item in result.data] == fake.made
    assert all(item.url is None for item in result.data)
    assert [item.revised_prompt for item in result.data] == ["a revised prompt"] * 2


def test_no_format_asked_passes_the_upstream_reply_through(
    gateway: ServerThread, bob: Customer, fake: FakeImages
) -> None:
    fake.default = ImageReply(form="b64", usage=GPT_IMAGE_USAGE)

    result = bob.client(gateway.url).images.generate(model=GPT_IMAGE, prompt="a red fox")

    assert base64.b64decode(result.data[0].b64_json or "") == fake.made[0]
    assert result.usage is not None and result.usage.output_tokens == 4160


def test_a_kept_image_expires(tmp_path: Path) -> None:
    files = ImageFiles(tmp_path / "images", ttl_s=3_600)
    name = files.put(png(1))
    found = files.find(name)
    assert found is not None and found[0].read_bytes() == png(1)

    hour_ago = time.time() - 3_601
    os.utime(tmp_path / "images" / name, (hour_ago, hour_ago))

    assert files.find(name) is None
    assert files.sweep() == 1
    assert not (tmp_path / "images" / name).exists()


def test_unknown_or_malformed_image_names_are_404(gateway: ServerThread) -> None:
    for name in ("A" * 32 + ".png", "..%2Fsecret_key", "x.png"):
        response = httpx.get(f"{gateway.url}/v1/images/files/{name}")
        assert response.status_code == 404
        assert response.json()["error"]["code"] in ("image_not_found", "unknown_url")


# Edits and variations: multipart uploads sent on.


def test_edit_sends_image_and_mask_with_the_upstream_model(
    gateway: ServerThread, bob: Customer, fake: FakeImages, pngs: dict[str, Path]
) -> None:
    fake.default = ImageReply(form="b64", usage=GPT_IMAGE_USAGE)

    with pngs["image"].open("rb") as image, pngs["mask"].open("rb") as mask:
        result = bob.client(gateway.url).images.edit(
            model=GPT_IMAGE, image=image, mask=mask, prompt="add a hat", response_format="url"
        )

    received = fake.requests[0]
    assert received.path == "/v1/images/edits"
    assert received.fields["model"] == ["gpt-image-1"]
    assert received.fields["prompt"] == ["add a hat"]
    assert "response_format" not in received.fields
    assert [(name, data) for name, _, data in received.files] == [
        ("image", png(10, 20, 30)),
        ("mask", png(0, 0, 0)),
    ]
    assert httpx.get(result.data[0].url or "").content == fake.made[0]


def test_edit_takes_several_images(
    gateway: ServerThread, bob: Customer, fake: FakeImages, pngs: dict[str, Path]
) -> None:
    # More files than an audio upload may carry: GPT image models take up to 16 images.
    with ExitStack() as stack:
        images = [stack.enter_context(pngs[name].open("rb")) for name in ("image", "mask") * 3]
        bob.client(gateway.url).images.edit(model=GPT_IMAGE, image=images, prompt="merge them")

    assert [name for name, _, _ in fake.requests[0].files] == ["image[]"] * 6


def test_variation_sends_the_image(
    gateway: ServerThread, bob: Customer, fake: FakeImages, pngs: dict[str, Path]
) -> None:
    fake.default = ImageReply(form="url")

    # The SDK marks variations deprecated (OpenAI retired them); compatible providers still serve them.
    with pngs["image"].open("rb") as image, pytest.deprecated_call():
        result = bob.client(gateway.url).images.create_variation(
            model=DALLE, image=image, n=2, response_format="b64_json"
        )

    received = fake.requests[0]
    assert received.path == "/v1/images/variations"
    assert received.fields["model"] == ["dall-e-3"] and received.fields["n"] == ["2"]
    assert [data for _, _, data in received.files] == [png(10, 20, 30)]
    assert [base64.b64decode(item.b64_json or "") for item in result.data] == fake.made


# Money.


@BOTH_DATABASES
def test_per_image_price_by_size_and_quality_times_the_group_multiplier(
    pictures: Shop, fake: FakeImages, start_gateway: Callable[..., ServerThread]
) -> None:
    group = accounts.get_or_create_group("premium")
    group.multiplier_ppm = 1_500_000
    group.save()
    customer = pictures.customer(1_000_000_000, group="premium")
    client = customer.client(start_gateway().url)
    fake.default = ImageReply(form="url")

    client.images.generate(model=DALLE, prompt="hd", n=2, size="1024x1024", quality="hd")
    client.images.generate(model=DALLE, prompt="default size and quality")

    hd, default = usage_for(2)
    assert hd.charge == 2 * HD_PRICE * 3 // 2
    assert hd.meters == {"image:1024x1024:hd": [2, HD_PRICE]}
    # DALL·E 3's defaults, 1024x1024 standard: no price of their own, so the `image` price.
    assert default.charge == IMAGE_PRICE * 3 // 2
    assert default.meters == {"image:1024x1024:standard": [1, IMAGE_PRICE]}


@BOTH_DATABASES
def test_token_priced_model_is_billed_from_usage(
    gateway: ServerThread, bob: Customer, fake: FakeImages
) -> None:
    fake.default = ImageReply(form="b64", usage=GPT_IMAGE_USAGE, count=1)

    bob.client(gateway.url).images.generate(model=GPT_IMAGE, prompt="a red fox", n=3)

    [record] = usage_for(1)
    # 50 input tokens (10 text + 40 image) at $5/M, 4,160 output tokens at $40/M; images unpriced.
    assert record.charge == 50 * 5_000 + 4_160 * 40_000
    assert record.prompt_tokens == 50 and record.completion_tokens == 4_160
    assert record.meters["image:auto:auto"] == [1, 0]  # one image came back, of three asked for


@BOTH_DATABASES
def test_402_before_any_upstream_call_when_the_images_are_unaffordable(
    pictures: Shop, fake: FakeImages, start_gateway: Callable[..., ServerThread]
) -> None:
    poor = pictures.customer(3 * IMAGE_PRICE - 1)
    client = poor.client(start_gateway().url)

    with pytest.raises(openai.APIStatusError) as caught:
        client.images.generate(model=DALLE, prompt="three", n=3)

    assert caught.value.status_code == 402
    assert fake.requests == []
    assert balance(poor.user_id) == 3 * IMAGE_PRICE - 1


def test_402_when_a_token_priced_image_s_output_allowance_is_unaffordable(
    pictures: Shop, fake: FakeImages, start_gateway: Callable[..., ServerThread]
) -> None:
    # A high-quality 1024x1536 gpt-image-1 image is 6,240 output tokens at 40,000 nano-USD each.
    poor = pictures.customer(6_240 * 40_000 - 1)
    client = poor.client(start_gateway().url)

    with pytest.raises(openai.APIStatusError) as caught:
        client.images.generate(model=GPT_IMAGE, prompt="x", size="1024x1536", quality="high")

    assert caught.value.status_code == 402
    assert fake.requests == []


@BOTH_DATABASES
def test_nothing_billed_when_the_upstream_fails(
    gateway: ServerThread, bob: Customer, fake: FakeImages
) -> None:
    fake.default = ImageReply(status=500)

    with pytest.raises(openai.InternalServerError):
        bob.client(gateway.url).images.generate(model=DALLE, prompt="boom")

    [record] = usage_for(1)
    assert (record.status, record.charge, record.http_status) == ("error", 0, 502)
    assert charges(bob.user_id) == []
    gateway.stop()  # gives the lease back
    assert balance(bob.user_id) == 10_000_000_000


@pytest.mark.parametrize("trouble", ["unfetchable upstream URL", "no room to keep the image"])
def test_nothing_billed_when_the_image_cannot_be_delivered(
    pictures: Shop,
    bob: Customer,
    fake: FakeImages,
    start_gateway: Callable[..., ServerThread],
    gateway_settings: Settings,
    trouble: str,
) -> None:
    if trouble == "no room to keep the image":
        fake.default, asked = ImageReply(form="b64"), "url"
        gateway_settings.var_dir.mkdir(parents=True, exist_ok=True)
        (gateway_settings.var_dir / "images").write_bytes(b"a file where the directory should be")
    else:
        fake.default, asked = ImageReply(form="dead-url"), "b64_json"
    client = bob.client(start_gateway().url)

    with pytest.raises(openai.APIStatusError) as caught:
        client.images.generate(model=DALLE, prompt="lost", response_format=asked)  # type: ignore[arg-type]

    assert caught.value.status_code in (500, 502)
    [record] = usage_for(1)
    assert (record.status, record.charge) == ("error", 0)


# Bad input.


def test_upload_over_the_limit_is_413_naming_the_limit(
    pictures: Shop, bob: Customer, start_gateway: Callable[..., ServerThread], tmp_path: Path
) -> None:
    big = tmp_path / "big.png"
    big.write_bytes(png(1) + b"\0" * 5_000)
    client = bob.client(start_gateway(max_image_upload_bytes=4_096).url)

    with big.open("rb") as image, pytest.raises(openai.APIStatusError) as caught:
        client.images.edit(model=GPT_IMAGE, image=image, prompt="too big")

    assert caught.value.status_code == 413
    assert "4096" in caught.value.message
    assert UsageRecord.select().count() == 0


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": DALLE, "prompt": "x", "n": 11}, "n"),
        ({"model": DALLE, "prompt": "x", "n": 0}, "n"),
        ({"model": DALLE}, "prompt"),
        ({"model": DALLE, "prompt": ""}, "prompt"),
        ({"prompt": "x"}, "model"),
        ({"model": DALLE, "prompt": "x", "response_format": "png"}, "response_format"),
        ({"model": DALLE, "prompt": "x", "size": 1024}, "size"),
    ],
)
def test_bad_generation_bodies_are_400_naming_the_field(
    gateway: ServerThread, bob: Customer, fake: FakeImages, body: dict[str, object], param: str
) -> None:
    response = httpx.post(
        f"{gateway.url}/v1/images/generations", json=body, headers={"authorization": f"Bearer {bob.secret}"}
    )

    assert response.status_code == 400
    assert response.json()["error"]["param"] == param
    assert fake.requests == []


@pytest.mark.parametrize(
    ("path", "fields", "with_image", "param"),
    [
        ("/v1/images/edits", {"model": GPT_IMAGE, "prompt": "x"}, False, "image"),
        ("/v1/images/edits", {"model": GPT_IMAGE, "prompt": "x", "image": "not a file"}, False, "image"),
        ("/v1/images/edits", {"model": GPT_IMAGE}, True, "prompt"),
        ("/v1/images/variations", {"model": DALLE, "n": "11"}, True, "n"),
        ("/v1/images/variations", {"model": DALLE, "n": "two"}, True, "n"),
        ("/v1/images/variations", {"model": DALLE}, False, "image"),
    ],
)
def test_bad_upload_forms_are_400_naming_the_field(
    gateway: ServerThread,
    bob: Customer,
    fake: FakeImages,
    path: str,
    fields: dict[str, str],
    with_image: bool,
    param: str,
) -> None:
    files = {"image": ("image.png", png(1), "image/png")} if with_image else {"unrelated": ("a.txt", b"a")}

    response = httpx.post(
        gateway.url + path, data=fields, files=files, headers={"authorization": f"Bearer {bob.secret}"}
    )

    assert response.status_code == 400
    assert response.json()["error"]["param"] == param
    assert fake.requests == []
