// The Roger shell as a stand-alone Android library build. An app usually includes the module
// instead: in the app's settings.gradle.kts,
//   include(":roger"); project(":roger").projectDir = file("<path to this repository>/android")
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
    plugins {
        id("com.android.library") version "8.7.3"
        id("org.jetbrains.kotlin.android") version "2.1.0"
    }
}

dependencyResolutionManagement {
    repositoriesMode.set(RepositoriesMode.FAIL_ON_PROJECT_REPOS)
    repositories {
        google()
        mavenCentral()
        // The Kotlin half of rustls-platform-verifier (the core's certificate verifier) ships
        // inside its crate as a Maven repository; cargo knows where the crate is.
        maven {
            url = uri(rustlsPlatformVerifierMaven())
            metadataSources { artifact() }
        }
    }
}

/** The `maven` folder of the `rustls-platform-verifier-android` crate the core resolved. */
fun rustlsPlatformVerifierMaven(): File {
    val metadata = providers.exec {
        workingDir = rootDir.parentFile
        commandLine(
            "cargo", "metadata", "--format-version", "1", "--locked",
            "--filter-platform", "aarch64-linux-android", "--manifest-path", "bindings/Cargo.toml",
        )
    }.standardOutput.asText.get()
    @Suppress("UNCHECKED_CAST")
    val packages = (groovy.json.JsonSlurper().parseText(metadata) as Map<String, Any?>)["packages"]
        as List<Map<String, Any?>>
    val manifest = packages.first { it["name"] == "rustls-platform-verifier-android" }["manifest_path"]
        as String
    return File(File(manifest).parentFile, "maven")
}

rootProject.name = "roger-android"
