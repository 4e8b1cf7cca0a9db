// Huis clos: WebAuthn ceremonies (security keys, passkeys) with
// django-otp-webauthn's JSON endpoints. A button carries its URLs:
//   data-webauthn="register" | "authenticate" | "step-up"
//   data-begin, data-complete: the ceremony's two endpoints
//   data-done: where to go once done (register, authenticate)
// "step-up" submits the button's form once the assertion is verified.
// No inline script: the Content-Security-Policy forbids it. The messages
// come translated from the page: data-busy, data-failed, data-unsupported on
// the .webauthn-status element (templates/accounts/_webauthn_status.html).

function csrfToken() {
  const input = document.querySelector("input[name=csrfmiddlewaretoken]");
  if (input) {
    return input.value;
  }
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

async function postJSON(url, body) {
  const response = await fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
    body: JSON.stringify(body),
  });
  if (!response.ok) {
    throw new Error(`${url}: ${response.status}`);
  }
  return response.json();
}

function statusFor(button) {
  const scope = button.closest("form, section") || document;
  return scope.querySelector(".webauthn-status");
}

async function ceremony(button) {
  const mode = button.dataset.webauthn;
  const status = statusFor(button);
  const say = (key) => {
    if (status) {
      status.textContent = key ? status.dataset[key] || "" : "";
    }
  };
  if (!window.PublicKeyCredential || !PublicKeyCredential.parseCreationOptionsFromJSON) {
    say("unsupported");
    return;
  }
  button.disabled = true;
  say("busy");
  try {
    const options = await postJSON(button.dataset.begin, {});
    const credential =
      mode === "register"
        ? await navigator.credentials.create({
            publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options),
          })
        : await navigator.credentials.get({
            publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options),
          });
    await postJSON(button.dataset.complete, credential.toJSON());
    say(null);
    if (mode === "step-up") {
      const form = button.form;
      const field = form.querySelector("[name=otp]");
      if (field) {
        field.required = false;
        field.value = "";
      }
      form.requestSubmit();
      return;
    }
    window.location.assign(button.dataset.done || "/");
  } catch (error) {
    console.error("WebAuthn:", error);
    say("failed");
    button.disabled = false;
  }
}

document.querySelectorAll("button[data-webauthn]").forEach((button) => {
  button.addEventListener("click", () => ceremony(button));
});
