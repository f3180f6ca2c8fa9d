//! The JNI entry the Android shell calls once at start-up (`PlatformTls.init(context)`) so the
//! core's certificate verifier can ask Android's trust manager (system, user and MDM-installed
//! CAs, the app's network security config). JNI rather than UniFFI: the verifier needs the
//! `JNIEnv` and a `Context`, which JNA cannot hand over.
//!
//! On other targets there is nothing to initialise; the entry exists there too so the shell's
//! JVM tests bind to the same symbol the app does.

use jni::objects::{JClass, JObject};
use jni::sys::{jboolean, JNI_FALSE, JNI_TRUE};
use jni::JNIEnv;

/// `com.myq.roger.android.PlatformTls.nativeInit(Context): Boolean`. True when the verifier is
/// ready; a panic or a JNI error is reported as false, never unwound into the JVM.
#[no_mangle]
pub extern "system" fn Java_com_myq_roger_android_PlatformTls_nativeInit<'local>(
    env: JNIEnv<'local>,
    _class: JClass<'local>,
    context: JObject<'local>,
) -> jboolean {
    let ready = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || init(env, context)));
    match ready {
        Ok(true) => JNI_TRUE,
        _ => JNI_FALSE,
    }
}

#[cfg(target_os = "android")]
fn init(mut env: JNIEnv<'_>, context: JObject<'_>) -> bool {
    match rustls_platform_verifier::android::init_with_env(&mut env, context) {
        Ok(()) => true,
        Err(error) => {
            tracing::error!(%error, "the platform certificate verifier could not be initialised");
            false
        }
    }
}

#[cfg(not(target_os = "android"))]
fn init(_env: JNIEnv<'_>, context: JObject<'_>) -> bool {
    !context.is_null()
}
