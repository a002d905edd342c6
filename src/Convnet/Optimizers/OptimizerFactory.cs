namespace Convnet.Optimizers;

/// <summary>
/// Makes an optimizer from its name and settings (as tinygrad's thin optimizer factories): "adam",
/// "adamw", "rmsprop" or "sgd", each with its defaults for what is left out.
/// </summary>
public static class OptimizerFactory
{
    /// <summary>The names <see cref="Create"/> takes: "adam", "adamw", "rmsprop", "sgd".</summary>
    public static IReadOnlyList<string> Names { get; } = ["adam", "adamw", "rmsprop", "sgd"];

    /// <summary>A new optimizer called <paramref name="name"/> with the given settings.</summary>
    /// <param name="name">One of <see cref="Names"/>.</param>
    /// <param name="learningRate">The initial learning rate; positive and finite.</param>
    /// <param name="weightDecay">AdamW's decoupled weight decay (its default 0.004 when null); AdamW only.</param>
    /// <param name="momentum">SGD's or RMSprop's momentum (0 when null); those two only.</param>
    /// <param name="clipNorm">Global L2 norm the gradients are clipped to; null for none.</param>
    /// <param name="emaMomentum">Momentum of the moving average of the weights; null for none.</param>
    /// <exception cref="ArgumentException">An unknown name, or a setting the optimizer does not take.</exception>
    public static Optimizer Create(string name, float learningRate, float? weightDecay = null, float? momentum = null, float? clipNorm = null, float? emaMomentum = null)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (weightDecay is not null && name != "adamw")
        {
            throw new ArgumentException($"weightDecay is AdamW's; {name} does not take it.", nameof(weightDecay));
        }
        if (momentum is not null && name is not ("sgd" or "rmsprop"))
        {
            throw new ArgumentException($"momentum is SGD's or RMSprop's; {name} does not take it.", nameof(momentum));
        }
        return name switch
        {
            "adam" => new Adam(learningRate, clipNorm: clipNorm, emaMomentum: emaMomentum),
            "adamw" => weightDecay is { } wd
                ? new AdamW(learningRate, wd, clipNorm: clipNorm, emaMomentum: emaMomentum)
                : new AdamW(learningRate, clipNorm: clipNorm, emaMomentum: emaMomentum),
            "rmsprop" => new RmsProp(learningRate, momentum: momentum ?? 0, clipNorm: clipNorm, emaMomentum: emaMomentum),
            "sgd" => new Sgd(learningRate, momentum ?? 0, clipNorm, emaMomentum),
            _ => throw new ArgumentException($"unknown optimizer '{name}'; known: {string.Join(", ", Names)}", nameof(name)),
        };
    }
}
