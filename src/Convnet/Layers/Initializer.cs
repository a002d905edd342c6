using Convnet.Runtime;

namespace Convnet.Layers;

/// <summary>Kernel initialisation schemes, as Keras defines them.</summary>
public enum Initializer
{
    /// <summary>U(−l, l), l = √(6 / (fanIn + fanOut)) (Glorot and Bengio, 2010); Keras's default.</summary>
    GlorotUniform,

    /// <summary>U(−l, l), l = √(6 / fanIn) (He et al., 2015).</summary>
    HeUniform,
}

/// <summary>Draws initial kernel values for an <see cref="Initializer"/>.</summary>
public static class Initializers
{
    /// <summary>
    /// Fills <paramref name="values"/> with draws from U(−l, l), l given by <paramref name="kind"/>
    /// and the fans (for a convolution, K·K·C in and K·K·F out, as Keras), in order from <paramref name="rng"/>.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="kind"/> is not a defined <see cref="Initializer"/>.</exception>
    public static void Fill(Initializer kind, Span<float> values, int fanIn, int fanOut, ref Rng rng)
    {
        double limit = kind switch
        {
            Initializer.GlorotUniform => Math.Sqrt(6.0 / (fanIn + fanOut)),
            Initializer.HeUniform => Math.Sqrt(6.0 / fanIn),
            _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown initializer."),
        };
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = (float)((rng.NextDouble() * 2 - 1) * limit);
        }
    }
}
