namespace Convnet.Layers;

public enum Padding
{
    /// <summary>No padding: the output shrinks by kernel − 1.</summary>
    Valid,

    /// <summary>Zero padding so that the output is ceil(input / stride).</summary>
    Same,
}
