from tests.test_saliency_page import start, demo_image_ids
def test_probe(app_env, demo_root):
    at = start(focus=demo_image_ids(demo_root)[0])
    kinds = set()
    def walk(node):
        kinds.add(type(node).__name__ + ":" + str(getattr(node, "type", "")))
        for child in getattr(node, "children", {}).values():
            walk(child)
    walk(at._tree)
    print(sorted(kinds))
    print([m.label for m in at.metric])
