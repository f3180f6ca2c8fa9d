// The Roger shell: the core's Android libraries and bindings (written by build-rust.sh), the
// Kotlin layer shared with the JVM (bindings/kotlin/src/main/kotlin) and the Android pieces
// here (Keystore secure store, camera-frame adapter).
plugins {
    id("com.android.library")
    id("org.jetbrains.kotlin.android")
}

android {
    namespace = "com.myq.roger.android"
    compileSdk = 35

    defaultConfig {
        // java.nio.file (atomic entry writes) and the Keystore's AES-GCM keys need API 26.
        minSdk = 26
        consumerProguardFiles("consumer-rules.pro")
    }

    sourceSets {
        getByName("main") {
            java.srcDirs(
                "src/main/kotlin",
                "../bindings/kotlin/src/main/kotlin",
                "src/generated/kotlin",
            )
            jniLibs.srcDirs("src/main/jniLibs")
        }
        getByName("test") {
            java.srcDirs("src/test/kotlin")
        }
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }

    testOptions {
        unitTests.isIncludeAndroidResources = true
    }
}

kotlin {
    jvmToolchain(17)
}

dependencies {
    // The generated bindings call the core through JNA; the AAR carries JNA's Android natives.
    implementation("net.java.dev.jna:jna:5.19.1@aar")
    implementation("org.jetbrains.kotlinx:kotlinx-coroutines-android:1.11.0")
    implementation("androidx.annotation:annotation:1.9.1")
    // Android's trust manager for the core's TLS (PlatformTls); its version follows the crate's,
    // from the repository settings.gradle.kts finds through cargo.
    implementation("rustls:rustls-platform-verifier:latest.release")

    // Unit tests on the JVM (the same ones android/jvm-check runs with Maven): Robolectric,
    // and the core built for the host (set jna.library.path and roger.sim, see the README).
    testImplementation("junit:junit:4.13.2")
    testImplementation("org.robolectric:robolectric:4.17")
    testImplementation("org.jetbrains.kotlin:kotlin-test-junit:2.1.0")
}
