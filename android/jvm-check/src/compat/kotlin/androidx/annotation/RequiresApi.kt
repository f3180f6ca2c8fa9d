package androidx.annotation

/**
 * The signature of `androidx.annotation.RequiresApi`, which the Android-flavoured generated
 * bindings import. The Gradle build takes the real one from `androidx.annotation:annotation`;
 * that artifact is published only on Google's Maven repository, so the JVM check compiles
 * against this copy of its declaration (a lint hint with no runtime behaviour).
 */
@MustBeDocumented
@Retention(AnnotationRetention.BINARY)
@Target(
    AnnotationTarget.TYPE, AnnotationTarget.FUNCTION, AnnotationTarget.PROPERTY_GETTER,
    AnnotationTarget.PROPERTY_SETTER, AnnotationTarget.CONSTRUCTOR, AnnotationTarget.FIELD,
    AnnotationTarget.FILE, AnnotationTarget.CLASS,
)
annotation class RequiresApi(
    /** The API level to require (alias of [api]). */
    val value: Int = 1,
    /** The API level to require. */
    val api: Int = 1,
)
