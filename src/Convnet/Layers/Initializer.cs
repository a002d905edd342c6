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

public static class Initializers
{
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
