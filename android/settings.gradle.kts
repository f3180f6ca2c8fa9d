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
    }
}

rootProject.name = "roger-android"
